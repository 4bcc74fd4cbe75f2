#!/usr/bin/env python3
"""Dump the reference values that tests/unit/test_scheduler.c and test_rng.c compare against.

Writes tests/data/schedulers/:
  rng.json        torch.randn streams (float32) for several seeds and sizes, from torch's AVX2
                  kernel and from its portable ("default") kernel, each run in a subprocess with
                  ATEN_CPU_CAPABILITY set;
  cases.json      the list of scheduler cases;
  timesteps.json  set_timesteps for each spacing and several step counts;
  <case>.json     one DDIMScheduler / DDPMScheduler case: the scheduler_config.json diffusers
                  writes, the timesteps, alphas_cumprod at a few indices, and three steps from a
                  fixed sample / model output / noise with the prev_sample diffusers computes;
  samplers.json   the list of the other samplers' cases (SAMPLER_CASES);
  sampler_<case>.json  one Euler / Euler a / Heun / DPM-Solver++ / UniPC / LMS / PNDM case: the
                  config, init_noise_sigma, and a whole run (every U-Net call) with random model
                  outputs: per call the timestep, the sample, scale_model_input(sample), the
                  model output, the noise the step drew (if any) and prev_sample; and img2img
                  at strength 0.5: the first call (t_start * order, set_begin_index) and
                  add_noise there.
Floats are float32 values printed with 9 significant digits, so they parse back exactly.

Run from the repository root with the project's venv:  .venv/bin/python tools/dump_scheduler_reference.py
"""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT_DIR = os.path.join(ROOT, "tests", "data", "schedulers")

RNG_SEEDS = [0, 42, 2**32 + 7]
RNG_SIZES = [1, 3, 15, 16, 17, 100, 3 * 16 * 16]
N_VALUES = 24  # elements in each scheduler step, as [1, 4, 2, 3]


def f32(values):
    """A flat list of python floats that print as the float32 values with 9 significant digits."""
    return [float(f"{v:.9g}") for v in np.asarray(values, dtype=np.float32).ravel()]


def write_json(path, obj):
    """One top-level key per line, values compact."""
    lines = [f"  {json.dumps(k)}: {json.dumps(v, separators=(', ', ': '))}" for k, v in obj.items()]
    with open(path, "w") as f:
        f.write("{\n" + ",\n".join(lines) + "\n}\n")


# ---------------------------------------------------------------------------------------------
# rng

def rng_streams(kernel):
    """Streams from the current process's torch (its CPU capability is fixed at import). The
    portable kernel differs from the AVX2 one only for n >= 16: it gets fewer streams."""
    import torch

    streams = []

    def stream(seed, draws):
        g = torch.Generator().manual_seed(seed)
        values = [f32(torch.randn(n, generator=g)) for n in draws]
        streams.append({"seed": seed, "draws": draws, "values": values})

    if kernel == "avx2":
        for seed in RNG_SEEDS:
            for n in RNG_SIZES:
                stream(seed, [n])
        stream(42, [768, 768])          # the stream continues across calls
        stream(0, [3, 768, 1, 5, 16])   # an n < 16 draw's cached second normal survives n >= 16
    else:
        for n in RNG_SIZES:
            if n >= 16:
                stream(42, [n])
    return {"capability": torch.backends.cpu.get_cpu_capability(), "torch": torch.__version__,
            "streams": streams}


def dump_rng():
    kernels = {}
    for name, capability in [("avx2", "AVX2"), ("default", "DEFAULT")]:
        env = dict(os.environ, ATEN_CPU_CAPABILITY=capability.lower())
        out = subprocess.run([sys.executable, os.path.abspath(__file__), "--rng-streams", name],
                             env=env, check=True, capture_output=True, text=True).stdout
        result = json.loads(out)
        if result["capability"] != capability:
            sys.exit(f"torch ran with CPU capability {result['capability']}, not {capability}: "
                     "dump on a machine with AVX2")
        kernels[name] = result
    write_json(os.path.join(OUT_DIR, "rng.json"), {
        "about": "torch.manual_seed(seed); torch.randn(n) for each n of draws in turn (one "
                 "generator); 'avx2' is torch's AVX2 kernel, 'default' its portable kernel",
        "torch": kernels["avx2"]["torch"],
        "avx2": kernels["avx2"]["streams"],
        "default": kernels["default"]["streams"],
    })


# ---------------------------------------------------------------------------------------------
# schedulers

# name, config class, sampler class, steps, eta, config keys
CASES = [
    ("ddim_linear_eps_leading", "ddim", "ddim", 10, 0.0, {}),
    ("ddim_scaled_eps_leading_offset", "ddim", "ddim", 20, 0.0,
     dict(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012, steps_offset=1,
          set_alpha_to_one=False, clip_sample=False)),
    ("ddim_cos_v_trailing", "ddim", "ddim", 7, 0.0,
     dict(beta_schedule="squaredcos_cap_v2", prediction_type="v_prediction",
          timestep_spacing="trailing")),
    ("ddim_linear_v_linspace_eta1", "ddim", "ddim", 13, 1.0,
     dict(prediction_type="v_prediction", timestep_spacing="linspace")),
    ("ddim_scaled_eps_trailing_eta05", "ddim", "ddim", 9, 0.5,
     dict(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012,
          timestep_spacing="trailing", clip_sample=False)),
    ("ddim_cos_eps_linspace_range2", "ddim", "ddim", 50, 0.0,
     dict(beta_schedule="squaredcos_cap_v2", timestep_spacing="linspace", clip_sample_range=2.0)),
    ("ddim_linear_sample_leading", "ddim", "ddim", 25, 0.3, dict(prediction_type="sample")),
    ("ddim_scaled_v_trailing_zerosnr", "ddim", "ddim", 10, 0.0,
     dict(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012,
          prediction_type="v_prediction", timestep_spacing="trailing",
          rescale_betas_zero_snr=True, clip_sample=False)),
    ("ddim_linear_eps_500_one_step", "ddim", "ddim", 1, 0.0,
     dict(num_train_timesteps=500, set_alpha_to_one=False)),
    ("ddpm_linear_eps_leading", "ddpm", "ddpm", 10, 0.0, {}),
    ("ddpm_scaled_eps_trailing_large", "ddpm", "ddpm", 8, 0.0,
     dict(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012,
          timestep_spacing="trailing", variance_type="fixed_large")),
    ("ddpm_cos_v_linspace", "ddpm", "ddpm", 12, 0.0,
     dict(beta_schedule="squaredcos_cap_v2", prediction_type="v_prediction",
          timestep_spacing="linspace")),
    ("ddpm_linear_v_leading_offset_large", "ddpm", "ddpm", 50, 0.0,
     dict(prediction_type="v_prediction", steps_offset=1, variance_type="fixed_large",
          clip_sample=False)),
    ("ddpm_cos_eps_trailing_1000", "ddpm", "ddpm", 1000, 0.0,
     dict(beta_schedule="squaredcos_cap_v2", timestep_spacing="trailing")),
    ("ddpm_scaled_sample_linspace", "ddpm", "ddpm", 15, 0.0,
     dict(beta_schedule="scaled_linear", prediction_type="sample", timestep_spacing="linspace",
          clip_sample_range=1.5)),
    ("ddpm_linear_v_trailing_zerosnr", "ddpm", "ddpm", 6, 0.0,
     dict(prediction_type="v_prediction", timestep_spacing="trailing",
          rescale_betas_zero_snr=True)),
    # a config of one class driving the other sampler (from_config ignores the other's keys)
    ("ddpm_config_ddim_sampler", "ddpm", "ddim", 10, 0.0,
     dict(variance_type="fixed_large", beta_schedule="scaled_linear")),
    ("ddim_config_ddpm_sampler", "ddim", "ddpm", 10, 0.0,
     dict(set_alpha_to_one=False, prediction_type="v_prediction")),
]


def dump_case(name, config_class, sampler_class, n_steps, eta, keys):
    import torch
    from diffusers import DDIMScheduler, DDPMScheduler

    classes = {"ddim": DDIMScheduler, "ddpm": DDPMScheduler}
    source = classes[config_class](**keys)
    with tempfile.TemporaryDirectory() as tmp:
        source.save_config(tmp)
        with open(os.path.join(tmp, "scheduler_config.json")) as f:
            config = json.load(f)
    sched = classes[sampler_class].from_config(source.config)
    sched.set_timesteps(n_steps)
    timesteps = [int(t) for t in sched.timesteps]

    n_train = sched.config.num_train_timesteps
    ac_indices = sorted({0, 1, n_train // 3, n_train // 2, n_train - 2, n_train - 1} &
                        set(range(n_train)))
    ac_values = f32(sched.alphas_cumprod[ac_indices])

    g = torch.Generator().manual_seed(1234)
    shape = (1, 4, 2, 3)
    sample = torch.randn(shape, generator=g) * 1.5
    model_output = torch.randn(shape, generator=g) * 1.2

    steps = []
    for i in sorted({0, len(timesteps) // 2, len(timesteps) - 1}):
        t = timesteps[i]
        noise_seed = 100 + i
        noise = torch.randn(shape, generator=torch.Generator().manual_seed(noise_seed))
        if sampler_class == "ddim":
            uses_noise = eta > 0
            out = sched.step(model_output, t, sample, eta=eta,
                             variance_noise=noise if uses_noise else None)
        else:
            uses_noise = t > 0
            # DDPM draws its noise inside step(): a generator seeded alike draws the same values
            out = sched.step(model_output, t, sample,
                             generator=torch.Generator().manual_seed(noise_seed))
        steps.append({"index": i, "timestep": t, "uses_noise": uses_noise,
                      "noise": f32(noise), "prev_sample": f32(out.prev_sample)})

    # img2img: the first step for a strength (the pipeline's own get_timesteps) and add_noise
    from types import SimpleNamespace
    from diffusers import StableDiffusionImg2ImgPipeline

    strengths = [0.0, 0.05, 0.3, 0.5, 0.7, 0.75, 0.999, 1.0]
    first_steps = []
    for strength in strengths:
        _, n_run = StableDiffusionImg2ImgPipeline.get_timesteps(
            SimpleNamespace(scheduler=sched), n_steps, strength, "cpu")
        first_steps.append(n_steps - n_run)
    t_noise = timesteps[min(first_steps[3], len(timesteps) - 1)]
    noise = torch.randn(shape, generator=torch.Generator().manual_seed(7))
    noisy = sched.add_noise(sample, noise, torch.tensor([t_noise]))

    write_json(os.path.join(OUT_DIR, name + ".json"), {
        "name": name,
        "sampler": sampler_class,
        "n_steps": n_steps,
        "eta": eta,
        "config": config,
        "timesteps": timesteps,
        "alphas_cumprod_indices": ac_indices,
        "alphas_cumprod": ac_values,
        "sample": f32(sample),
        "model_output": f32(model_output),
        "steps": steps,
        "strengths": strengths,
        "first_steps": first_steps,
        "add_noise": {"timestep": t_noise, "noise": f32(noise), "noisy": f32(noisy)},
    })


# name, xattn sampler, karras, steps, config class (None: the sampler's own), config keys
SCALED = dict(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012)
COS = dict(beta_schedule="squaredcos_cap_v2")
SAMPLER_CASES = [
    ("euler_linear_eps_leading", "euler", False, 10, "DDIMScheduler", dict(steps_offset=1)),
    ("euler_scaled_v_trailing", "euler", False, 8, None,
     dict(SCALED, prediction_type="v_prediction", timestep_spacing="trailing")),
    ("euler_cos_sample_linspace", "euler", False, 9, None, dict(COS, prediction_type="sample")),
    ("euler_karras_scaled_eps", "euler", True, 10, None, dict(SCALED)),
    ("euler_zerosnr_v_sigma_min", "euler", False, 6, None,
     dict(SCALED, prediction_type="v_prediction", timestep_spacing="trailing",
          rescale_betas_zero_snr=True, final_sigmas_type="sigma_min")),
    ("euler_a_linear_eps", "euler_a", False, 10, None, {}),
    ("euler_a_scaled_v_leading", "euler_a", False, 7, None,
     dict(SCALED, prediction_type="v_prediction", timestep_spacing="leading", steps_offset=1)),
    ("heun_scaled_eps", "heun", False, 6, None, dict(SCALED)),
    ("heun_linear_v_trailing", "heun", False, 5, None,
     dict(prediction_type="v_prediction", timestep_spacing="trailing")),
    ("heun_sample_clip", "heun", False, 5, None, dict(prediction_type="sample", clip_sample=True)),
    ("heun_karras_ddim_config", "heun", True, 6, "DDIMScheduler", dict(SCALED)),
    ("dpmpp_2m_linear_eps", "dpmpp_2m", False, 10, None, {}),
    ("dpmpp_2m_scaled_v_trailing", "dpmpp_2m", False, 8, None,
     dict(SCALED, prediction_type="v_prediction", timestep_spacing="trailing")),
    ("dpmpp_2m_sample_leading", "dpmpp_2m", False, 7, None,
     dict(prediction_type="sample", timestep_spacing="leading", steps_offset=1)),
    ("dpmpp_2m_karras_scaled", "dpmpp_2m", True, 10, None, dict(SCALED)),
    # (Karras sigmas on the cosine schedule repeat the first timestep there: diffusers' step
    # index then starts at its second occurrence and runs past the end; not a case)
    ("dpmpp_2m_karras_linear_trailing", "dpmpp_2m", True, 8, None,
     dict(timestep_spacing="trailing")),
    ("dpmpp_2m_heun_solver", "dpmpp_2m", False, 8, None, dict(SCALED, solver_type="heun")),
    ("dpmpp_2m_sigma_min_16", "dpmpp_2m", False, 16, None,
     dict(final_sigmas_type="sigma_min", lower_order_final=False)),
    ("dpmpp_2m_euler_at_final", "dpmpp_2m", False, 16, None,
     dict(final_sigmas_type="sigma_min", euler_at_final=True)),
    ("dpmpp_2m_order1_zerosnr", "dpmpp_2m", False, 6, None,
     dict(solver_order=1, prediction_type="v_prediction", rescale_betas_zero_snr=True,
          timestep_spacing="trailing")),
    ("dpmpp_2m_sde_linear_eps", "dpmpp_2m_sde", False, 10, None, {}),
    ("dpmpp_2m_sde_karras_v", "dpmpp_2m_sde", True, 8, None,
     dict(SCALED, prediction_type="v_prediction")),
    ("dpmpp_2m_sde_heun_ddim_config", "dpmpp_2m_sde", False, 6, "DDIMScheduler",
     dict(SCALED, timestep_spacing="trailing")),
    ("unipc_linear_eps", "unipc", False, 10, None, {}),
    ("unipc_scaled_v_trailing", "unipc", False, 8, None,
     dict(SCALED, prediction_type="v_prediction", timestep_spacing="trailing")),
    ("unipc_sample_leading", "unipc", False, 7, None,
     dict(prediction_type="sample", timestep_spacing="leading", steps_offset=1)),
    ("unipc_karras_scaled", "unipc", True, 10, None, dict(SCALED)),
    ("unipc_bh1_sigma_min", "unipc", False, 8, None,
     dict(solver_type="bh1", final_sigmas_type="sigma_min")),
    # (predict_x0 false with final_sigmas_type zero ends in 0 * inf = NaN in diffusers)
    ("unipc_noise_prediction", "unipc", False, 8, None,
     dict(SCALED, predict_x0=False, final_sigmas_type="sigma_min")),
    ("unipc_disable_corrector", "unipc", False, 8, None, dict(disable_corrector=[0, 2])),
    ("unipc_order1_karras_sigma_min", "unipc", True, 6, None,
     dict(solver_order=1, final_sigmas_type="sigma_min")),
    ("lms_linear_eps", "lms", False, 10, None, {}),
    ("lms_scaled_v_leading", "lms", False, 8, None,
     dict(SCALED, prediction_type="v_prediction", timestep_spacing="leading")),
    ("lms_sample", "lms", False, 7, None, dict(prediction_type="sample")),
    ("lms_karras_scaled", "lms", True, 9, None, dict(SCALED)),
    ("pndm_linear_eps_prk", "pndm", False, 10, None, dict(steps_offset=1)),
    ("pndm_scaled_v_skip_prk", "pndm", False, 10, None,
     dict(SCALED, prediction_type="v_prediction", skip_prk_steps=True)),
    ("pndm_linspace_prk", "pndm", False, 6, None, dict(timestep_spacing="linspace")),
    ("pndm_trailing_skip_ddim_config", "pndm", False, 5, "DDIMScheduler",
     dict(SCALED, timestep_spacing="trailing", skip_prk_steps=True)),
]
SAMPLER_SHAPE = (1, 2, 2, 2)


def dump_sampler_case(name, sampler, karras, n_steps, config_class, keys):
    import diffusers
    import torch

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import reference_pipeline as rp
    from diffusers import StableDiffusionImg2ImgPipeline
    from types import SimpleNamespace

    cls = config_class or rp.SAMPLERS[sampler][0]
    extra = dict(keys)
    if cls == "DPMSolverMultistepScheduler" and sampler == "dpmpp_2m_sde":
        extra["algorithm_type"] = "sde-dpmsolver++"
    src_keys = {k: v for k, v in extra.items()
                if k in getattr(diffusers, cls).__init__.__code__.co_varnames}
    # keys of another class than the config's travel as from_config's extra keys
    other = {k: v for k, v in extra.items() if k not in src_keys}
    source = getattr(diffusers, cls)(**src_keys)
    with tempfile.TemporaryDirectory() as tmp:
        source.save_config(tmp)
        with open(os.path.join(tmp, "scheduler_config.json")) as f:
            text = f.read()
    config = json.loads(text)
    config.update(other)  # written into the file the C test loads
    sched = rp.make_scheduler(config, sampler, karras)

    def fresh():
        sc = rp.make_scheduler(config, sampler, karras)
        sc.set_timesteps(n_steps)
        return sc

    sched = fresh()
    g = torch.Generator().manual_seed(1234)
    ng = torch.Generator().manual_seed(99)
    x = torch.randn(SAMPLER_SHAPE, generator=g) * sched.init_noise_sigma
    calls = []
    for t in sched.timesteps:
        xin = sched.scale_model_input(x, t)
        mo = torch.randn(SAMPLER_SHAPE, generator=g)
        state = ng.get_state()
        prev = rp.step(sched, sampler, mo, t, x, 0.0, ng)
        noise = []
        if not torch.equal(state, ng.get_state()):
            noise = f32(torch.randn(SAMPLER_SHAPE, generator=torch.Generator().set_state(state)))
        calls.append({"timestep": float(t), "sample": f32(x), "scaled": f32(xin),
                      "model_output": f32(mo), "noise": noise, "prev_sample": f32(prev)})
        x = prev

    # img2img at strength 0.5: the pipeline's get_timesteps (with set_begin_index), add_noise
    sc = fresh()
    timesteps, _ = StableDiffusionImg2ImgPipeline.get_timesteps(
        SimpleNamespace(scheduler=sc), n_steps, 0.5, "cpu")
    first = len(sc.timesteps) - len(timesteps)
    orig = torch.randn(SAMPLER_SHAPE, generator=torch.Generator().manual_seed(5))
    noise = torch.randn(SAMPLER_SHAPE, generator=torch.Generator().manual_seed(6))
    noisy = sc.add_noise(orig, noise, timesteps[:1])

    write_json(os.path.join(OUT_DIR, f"sampler_{name}.json"), {
        "name": name, "sampler": sampler, "karras": karras, "n_steps": n_steps,
        # the scheduler_config.json text (Python's json writes lambda_min_clipped as -Infinity,
        # which JSON lacks: kept as a string)
        "config_text": json.dumps(config, indent=2, sort_keys=True),
        "init_noise_sigma": float(sched.init_noise_sigma),
        "calls": calls,
        "img2img": {"strength": 0.5, "first_call": first, "original": f32(orig),
                    "noise": f32(noise), "noisy": f32(noisy)},
    })


def dump_timesteps():
    """DDIMScheduler.set_timesteps for many step counts; diffusers' trailing spacing sometimes
    lists n + 1 timesteps (the last -1): xattn keeps the first n."""
    from diffusers import DDIMScheduler

    cases = []
    for n_train, counts in [(1000, [1, 2, 3, 7, 61, 101, 333]), (1024, [1, 3, 7, 61, 100])]:
        for spacing in ["leading", "trailing", "linspace"]:
            for n in counts:
                sched = DDIMScheduler(num_train_timesteps=n_train, timestep_spacing=spacing,
                                      steps_offset=1 if spacing == "leading" else 0)
                sched.set_timesteps(n)
                cases.append({"num_train_timesteps": n_train, "spacing": spacing, "n": n,
                              "steps_offset": sched.config.steps_offset,
                              "timesteps": [int(t) for t in sched.timesteps]})
    write_json(os.path.join(OUT_DIR, "timesteps.json"), {"cases": cases})


def main():
    if "--samplers-only" in sys.argv:  # just the sampler cases (quick, for development)
        import diffusers
        import torch
        for case in SAMPLER_CASES:
            dump_sampler_case(*case)
        write_json(os.path.join(OUT_DIR, "samplers.json"), {
            "diffusers": diffusers.__version__, "torch": torch.__version__,
            "cases": [c[0] for c in SAMPLER_CASES]})
        return
    if "--rng-streams" in sys.argv:
        json.dump(rng_streams(sys.argv[sys.argv.index("--rng-streams") + 1]), sys.stdout)
        return
    import diffusers
    import torch

    os.makedirs(OUT_DIR, exist_ok=True)
    dump_rng()
    dump_timesteps()
    for case in CASES:
        dump_case(*case)
    for case in SAMPLER_CASES:
        dump_sampler_case(*case)
    write_json(os.path.join(OUT_DIR, "samplers.json"), {
        "diffusers": diffusers.__version__,
        "torch": torch.__version__,
        "cases": [c[0] for c in SAMPLER_CASES],
    })
    write_json(os.path.join(OUT_DIR, "cases.json"), {
        "diffusers": diffusers.__version__,
        "torch": torch.__version__,
        "cases": [c[0] for c in CASES],
    })
    print(f"wrote {len(CASES)} scheduler cases, {len(SAMPLER_CASES)} sampler cases and rng.json "
          f"to {OUT_DIR}")


if __name__ == "__main__":
    main()
