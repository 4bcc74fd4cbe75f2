"""serve_webuiapi.py — a real AUTOMATIC1111 client against `xattn serve`: the `webuiapi` package
from PyPI (pinned in tools/requirements.txt) sends its ~45-field txt2img request with its own
defaults. Run by tools/serve_webuiapi.sh with the venv's Python; 127.0.0.1 only.

    serve_webuiapi.py PORT PROMPT"""
import sys

import webuiapi

port, prompt = int(sys.argv[1]), sys.argv[2]
fails = 0


def check(cond, what, detail=""):
    global fails
    print(("ok " if cond else "FAIL ") + what + ("" if cond else f": {detail}"), flush=True)
    fails += not cond


api = webuiapi.WebUIApi(host="127.0.0.1", port=port, sampler="DDIM", steps=20)
r = api.txt2img(prompt=prompt, width=32, height=32, sampler_name="DDIM", seed=3, cfg_scale=4)
check(len(r.images) == 1 and r.image.size == (32, 32), "txt2img returns the 32x32 image", r.images)
check(r.image.info.get("prompt") == prompt and r.image.info.get("seed") == "3",
      "the image carries xattn's PNG metadata (iTXt)", r.image.info)
check(isinstance(r.info, dict) and r.info.get("seed") == 3 and r.info.get("steps") == 20,
      "info is the JSON of the seed and every parameter", r.info)
r2 = api.txt2img(prompt=prompt, width=32, height=32, sampler_name="DDPM", seed=-1, batch_size=2,
                 negative_prompt="", steps=5)
check(len(r2.images) == 2 and r2.info["seed"] >= 0 and r2.info["sampler_name"] == "DDPM",
      "DDPM, a random seed reported back, batch_size 2", r2.info)
models = api.get_sd_models()
check(len(models) == 1 and models[0]["model_name"], "get_sd_models: the one model", models)
progress = api.get_progress()
check("progress" in progress and "state" in progress, "get_progress", progress)
for kwargs, field in [(dict(enable_hr=True), "enable_hr"), (dict(styles=["x"]), "styles"),
                      (dict(sampler_name="Euler b"), "sampler_name"),
                      (dict(width=512, height=512), "width")]:
    try:
        api.txt2img(prompt=prompt, **dict(dict(width=32, height=32, sampler_name="DDIM"), **kwargs))
        check(False, f"{field}: refused", "answered 200")
    except RuntimeError as e:
        status, text = e.args[0], e.args[1]
        check(status == 400 and f'"{field}: ' in text, f"{kwargs}: 400 naming {field}", e.args)
print(f"{fails} failed" if fails else "all passed")
sys.exit(1 if fails else 0)
