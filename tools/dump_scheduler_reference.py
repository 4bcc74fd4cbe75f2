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
                  fixed sample / model output / noise with the prev_sample diffusers computes.
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
    write_json(os.path.join(OUT_DIR, "cases.json"), {
        "diffusers": diffusers.__version__,
        "torch": torch.__version__,
        "cases": [c[0] for c in CASES],
    })
    print(f"wrote {len(CASES)} scheduler cases and rng.json to {OUT_DIR}")


if __name__ == "__main__":
    main()
