"""test_api.py — `xattn serve`'s API, its limits and its refusals, against a real server on an
ephemeral 127.0.0.1 port (run by tests/cli/test_serve.sh; docs/serve.md says what each answer is).
Bounded: every request goes to 127.0.0.1, a few dozen in all, with 2..4 sampling steps."""
import base64
import json
import os
import signal
import socket
import struct
import threading
import time

from serve_lib import (Server, check, connect, fail, finish, ok, png_info, png_pixels,
                       read_response, request, txt2img)

P = "a red circle left of a blue square"
srv = Server("--queue", "2")
H = srv.host

# --- GET endpoints ----------------------------------------------------------------------------
r = request(srv, "GET", "/healthz")
check(r.status == 200 and r.json()["status"] == "ok", "GET /healthz", r.body)
encoder = r.json().get("encoder") is True  # with the text encoder in C, any text is a prompt
r = request(srv, "GET", "/sdapi/v1/sd-models")
m = r.json()
check(r.status == 200 and len(m) == 1 and m[0]["model_name"] == "tiny-random"
      and "/" not in m[0]["filename"], "GET /sdapi/v1/sd-models: the one model, no server path", m)
r = request(srv, "GET", "/sdapi/v1/progress")
j = r.json()
check(r.status == 200 and j["progress"] == 0 and j["state"]["job_count"] == 0,
      "GET /sdapi/v1/progress idle", j)
r = request(srv, "GET", "/xattn/v1/prompts")
check(r.status == 200 and P in r.json()["prompts"], "GET /xattn/v1/prompts lists the asset prompts")
r = request(srv, "GET", "/")
check(r.status == 200 and r.headers["content-type"].startswith("text/html")
      and "default-src 'none'" in r.headers.get("content-security-policy", ""),
      "GET / is HTML with a no-external-loads CSP", r.headers)
r = request(srv, "HEAD", "/healthz")
check(r.status == 200 and r.body == b"", "HEAD /healthz")

# --- txt2img ----------------------------------------------------------------------------------
r = txt2img(srv, prompt=P, seed=3, steps=3, cfg_scale=4, sampler_name="DDIM", width=32, height=32)
check(r.status == 200, "txt2img 200", r.body[:300])
a = r.json()
check(set(a) == {"images", "parameters", "info"}, "answer keys images, parameters, info", list(a))
w, h, color, text = png_info(a["images"][0])
check((w, h, color) == (32, 32, 2), "image: a 32x32 RGB PNG", (w, h, color))
check(text.get("prompt") == P and text.get("seed") == "3" and text.get("steps") == "3"
      and text.get("cfg") == "4" and text.get("sampler") == "ddim" and text.get("eta") == "0"
      and text.get("software", "").startswith("xattn ") and "model" in text,
      "image carries the CLI's iTXt metadata", text)
info = json.loads(a["info"])
check(info["seed"] == 3 and info["steps"] == 3 and info["sampler_name"] == "DDIM"
      and info["ignored"] == [], "info: seed and every parameter", info)
check(info.get("unet_calls") == 3, "info: the U-Net calls (DDIM: one a step)", info)
check(a["parameters"]["cfg_scale"] == 4 and a["parameters"]["width"] == 32, "parameters", a["parameters"])
first = png_pixels(a["images"][0])

r = txt2img(srv, prompt=P, seed=3, steps=3, cfg_scale=4, sampler_name="ddim")
check(r.status == 200 and png_pixels(r.json()["images"][0]) == first,
      "the same seed gives the same image")
r = txt2img(srv, prompt=P, seed=-1, steps=2)
seed = json.loads(r.json()["info"])["seed"] if r.status == 200 else None
check(isinstance(seed, int) and seed >= 0, "seed -1: a random seed, reported back", seed)
check(r.status == 200 and r.json()["parameters"]["sampler_name"] == "DDIM",
      "no sampler_name: the model's (tiny-random's DDIMScheduler)", r.body[:200])
r2 = txt2img(srv, prompt=P, seed=seed, steps=2)
check(r2.status == 200 and png_pixels(r2.json()["images"][0]) == png_pixels(r.json()["images"][0]),
      "the reported seed reproduces the image")
r = txt2img(srv, prompt=P, seed=3, steps=3, cfg_scale=4, sampler_name="DDPM", eta=1)
check(r.status == 200 and png_info(r.json()["images"][0])[3]["sampler"] == "ddpm", "sampler DDPM")
# A1111's names of the other samplers (the library's table): "Euler a", "DPM++ 2M Karras"
r = txt2img(srv, prompt=P, seed=3, steps=3, cfg_scale=4, sampler_name="Euler a")
check(r.status == 200 and png_info(r.json()["images"][0])[3]["sampler"] == "euler_a", "sampler Euler a")
r = txt2img(srv, prompt=P, seed=3, steps=3, cfg_scale=4, sampler_name="Heun", heatmaps=True)
calls = json.loads(r.json()["info"]).get("unet_calls") if r.status == 200 else None
check(calls == 5, "info: Heun's 3 steps are 5 U-Net calls (the maps' steps count them)", calls)
r = txt2img(srv, prompt=P, seed=3, steps=3, cfg_scale=4, sampler_name="DPM++ 2M Karras")
meta = png_info(r.json()["images"][0])[3] if r.status == 200 else {}
check(meta.get("sampler") == "dpmpp_2m" and meta.get("karras") == "1", "sampler DPM++ 2M Karras", meta)
r = txt2img(srv, prompt=P, seed=3, steps=2, batch_size=2)
imgs = r.json().get("images", []) if r.status == 200 else []
check(len(imgs) == 2 and png_info(imgs[1])[3].get("index") == "1", "batch_size 2: two images")
r = txt2img(srv, prompt=P.upper() + ".", seed=3, steps=3, cfg_scale=4,
            negative_prompt="a red circle")
check(r.status == 200 and png_info(r.json()["images"][0])[3].get("negative") == "a red circle",
      "negative_prompt; prompt text matched whatever its case", r.body[:200])

# heatmaps and reweight
r = txt2img(srv, prompt=P, seed=3, steps=3, cfg_scale=4, heatmaps=True)
a = r.json() if r.status == 200 else {}
hm = a.get("heatmaps", [])
words = [e["word"] for e in hm]
check(words == P.split(), "heatmaps: one entry per word", words)
if hm:
    e = hm[2]
    check(e["index"] == 2 and png_info(e["map"])[:3] == (32, 32, 0), "map: a 32x32 grey PNG")
    check(png_info(e["overlay"])[2] == 2 and png_info(e["overlay"])[0] >= 32, "overlay: an RGB PNG")
    check(len({e["map"] for e in hm}) > 1, "maps differ between words")
    st = base64.b64decode(a["heatmaps_safetensors"][0])
    n, = struct.unpack("<Q", st[:8])
    header = json.loads(st[8:8 + n])
    check(header["maps"]["shape"] == [8, 32, 32] and len(st) == 8 + n + 8 * 32 * 32 * 4
          and json.loads(header["__metadata__"]["words"]) == P.split(),
          "heatmaps.safetensors: maps [8, 32, 32] with the words", header)
    check(png_pixels(a["images"][0]) == first, "heatmaps do not change the image")
r = txt2img(srv, prompt=P, seed=3, steps=3, cfg_scale=4, reweight={"red": 0, "Square": 3})
check(r.status == 200 and png_pixels(r.json()["images"][0]) != first
      and png_info(r.json()["images"][0])[3].get("reweight") == "red=0,Square=3",
      "reweight changes the image and is recorded", r.body[:200])
r = txt2img(srv, prompt=P, seed=3, steps=3, heatmaps=True, heat_layers="up", heat_heads="0",
            heat_steps="1:")
check(r.status == 200 and r.json()["parameters"]["heat_steps"] == "1:", "heat_layers/heads/steps")

# an A1111 client's request: every field with its default (what webuiapi sends)
a1111 = dict(enable_hr=False, denoising_strength=0.7, firstphase_width=0, firstphase_height=0,
             hr_scale=2, hr_upscaler="Latent", hr_second_pass_steps=0, hr_resize_x=0,
             hr_resize_y=0, hr_checkpoint_name=None, hr_sampler_name=None, hr_scheduler=None,
             hr_prompt="", hr_negative_prompt="", prompt=P, styles=[], seed=5, subseed=-1,
             subseed_strength=0.0, seed_resize_from_h=0, seed_resize_from_w=0,
             sampler_name="DDIM", scheduler="automatic", batch_size=1, n_iter=1, steps=2,
             cfg_scale=7.0, width=32, height=32, restore_faces=False, tiling=False,
             do_not_save_samples=False, do_not_save_grid=False, negative_prompt="", eta=1.0,
             s_churn=0, s_tmax=0, s_tmin=0, s_noise=1, override_settings={},
             override_settings_restore_afterwards=True, script_args=[], script_name=None,
             send_images=True, save_images=False, alwayson_scripts={}, sampler_index="Euler a",
             my_new_field=1, another={"x": 1})
r = txt2img(srv, **a1111)
check(r.status == 200, "an A1111 client's full request (neutral values) is answered", r.body[:300])
if r.status == 200:
    check(json.loads(r.json()["info"])["ignored"] == ["my_new_field", "another"],
          "unknown fields are ignored and listed in info")

# --- refusals: 400 {"error": "<field>: <what>"} ------------------------------------------------
def refused(status, field, resp, what):
    e = resp.error()
    check(resp.status == status and e is not None and e.startswith(field + ": ")
          and "\n" not in e and resp.headers.get("content-type") == "application/json",
          f"{what}: {status} naming {field}", f"{resp.status} {resp.body[:200]}")


def refused_body(fields, field, what=None):
    refused(400, field, txt2img(srv, **fields), what or f"{field}={json.dumps(fields)[:60]}")


base = dict(prompt=P, steps=2)
refused_body(dict(base, enable_hr=True), "enable_hr")
refused_body(dict(base, styles=["cinematic"]), "styles")
refused_body(dict(base, script_name="x/y plot"), "script_name")
refused_body(dict(base, script_args=[1]), "script_args")
refused_body(dict(base, alwayson_scripts={"controlnet": {"args": []}}), "alwayson_scripts")
refused_body(dict(base, override_settings={"CLIP_stop_at_last_layers": 2}), "override_settings")
refused_body(dict(base, restore_faces=True), "restore_faces")
refused_body(dict(base, n_iter=2), "n_iter")
refused_body(dict(base, subseed_strength=0.5), "subseed_strength")
refused_body(dict(base, save_images=True), "save_images")
refused_body(dict(base, send_images=False), "send_images")
refused_body(dict(base, steps=0), "steps")
refused_body(dict(base, steps=100000), "steps")
refused_body(dict(base, steps="20"), "steps", "steps as a string")
refused_body(dict(base, steps=2.5), "steps", "steps 2.5")
refused_body(dict(base, batch_size=100), "batch_size")
refused_body(dict(base, cfg_scale=1e9), "cfg_scale")
refused_body(dict(base, cfg_scale="high"), "cfg_scale", "cfg_scale as a string")
refused_body(dict(base, eta=-1), "eta")
refused_body(dict(base, seed=-2), "seed")
refused_body(dict(base, seed=1.5), "seed", "seed 1.5")
refused_body(dict(base, width=512), "width")
refused_body(dict(base, height=64), "height")
refused_body(dict(base, sampler_name="Euler b"), "sampler_name")
refused_body(dict(base, scheduler="Karras"), "scheduler")
refused_body(dict(base, prompt="x" * 1001), "prompt", "prompt over 1000 bytes")
refused_body(dict(base, prompt=5), "prompt", "prompt as a number")
if encoder:
    r = txt2img(srv, prompt="a purple elephant", steps=2)
    check(r.status == 200, "any text is encoded (the server has the text encoder)", r.body[:200])
else:
    refused_body(dict(base, prompt="a purple elephant"), "prompt", "a prompt the server cannot encode")
refused_body(dict(base, prompt=""), "prompt", "an empty prompt")
if not encoder:
    refused_body(dict(base, negative_prompt="a purple elephant"), "negative_prompt")
refused_body(dict(base, reweight={"green": 2}), "reweight", "reweight of a word not in the prompt")
refused_body(dict(base, reweight={"red": -1}), "reweight", "a negative factor")
refused_body(dict(base, reweight=["red"]), "reweight", "reweight as a list")
refused_body(dict(base, heatmaps="yes"), "heatmaps")
refused_body(dict(base, heatmaps=True, heat_layers="sideways"), "heat_layers")
refused_body(dict(base, heatmaps=True, heat_steps="9:2"), "heat_steps")
for body, what in [(b"{", "truncated JSON"), (b"[1, 2]", "an array"), (b"", "an empty body"),
                   (b'{"steps": NaN}', "NaN"), (b'{"prompt": "a"} x', "text after the object"),
                   (b'{"steps": 2, "steps": 3}', "a field given twice"),
                   (b'{"prompt": "\xff\xfe"}', "invalid UTF-8"),
                   (b'{"prompt": "a\\u0000b"}', "an escaped NUL")]:
    r = request(srv, "POST", "/sdapi/v1/txt2img", body)
    e = r.error() or ""
    check(r.status == 400 and e.split(":")[0] in ("body", "steps", "prompt"),
          f"{what}: 400", f"{r.status} {r.body[:200]}")
deep = b'{"comments": ' + b"[" * 20000 + b"]" * 20000 + b"}"
r = request(srv, "POST", "/sdapi/v1/txt2img", deep)
check(r.status in (400, 413), "JSON nested 20000 deep: refused, no crash", r.status)

# --- paths and methods ------------------------------------------------------------------------
for path in ["/nope", "/../../etc/passwd", "/sdapi/v1/txt2img/../../../etc/passwd",
             "/weights/tiny-random/unet/config.json", "/assets/a-red-circle.safetensors"]:
    r = request(srv, "GET", path)
    check(r.status == 404 and (r.error() or "").startswith("path: "), f"GET {path}: 404", r.status)
r = request(srv, "GET", "/sdapi/v1/txt2img")
check(r.status == 405 and r.headers.get("allow") == "POST" and (r.error() or "").startswith("method: "),
      "GET /sdapi/v1/txt2img: 405, Allow: POST", r.status)
r = request(srv, "POST", "/healthz", {})
check(r.status == 405 and "GET" in r.headers.get("allow", ""), "POST /healthz: 405", r.status)
r = request(srv, "DELETE", "/")
check(r.status == 405, "DELETE /: 405", r.status)

# --- Host and Origin --------------------------------------------------------------------------
for host in ["evil.example:%d" % srv.port, "127.0.0.1:%d" % (srv.port + 1 if srv.port < 65535 else 1),
             "192.168.1.1:%d" % srv.port, "127.0.0.1"]:
    r = request(srv, "GET", "/healthz", host=host)
    check(r.status == 403 and (r.error() or "").startswith("Host: "), f"Host {host}: 403", r.status)
r = request(srv, "GET", "/healthz", host="localhost:%d" % srv.port)
check(r.status == 200, "Host localhost:PORT: 200", r.status)
r = request(srv, "POST", "/sdapi/v1/txt2img", base, headers={"Origin": "http://evil.example"})
check(r.status == 403 and (r.error() or "").startswith("Origin: "), "a foreign Origin: 403", r.status)
r = request(srv, "POST", "/sdapi/v1/txt2img", base, headers={"Origin": "null"})
check(r.status == 403, "Origin null: 403", r.status)
r = request(srv, "POST", "/sdapi/v1/txt2img", base, headers={"Origin": "http://" + H})
check(r.status == 200, "the server's own Origin: 200", r.status)

# --- bodies: over the cap, chunked, truncated -------------------------------------------------
big = json.dumps(dict(base, comments="x" * 70000))
r = request(srv, "POST", "/sdapi/v1/txt2img", big)
check(r.status == 413 and (r.error() or "").startswith("body: "), "a 70 KB body: 413", r.status)


def chunked(body, size, close_early=False):
    data = body.encode()
    head = (f"POST /sdapi/v1/txt2img HTTP/1.1\r\nHost: {H}\r\nConnection: close\r\n"
            "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n").encode()
    with connect(srv) as s:
        s.sendall(head)
        for i in range(0, len(data), size):
            part = data[i:i + size]
            s.sendall(b"%x\r\n" % len(part) + part + b"\r\n")
        s.sendall(b"0\r\n\r\n")
        return read_response(s)


r = chunked(json.dumps(dict(base, seed=3, steps=3, cfg_scale=4)), 7)
check(r.status == 200 and png_pixels(r.json()["images"][0]) == first, "a chunked body (7-byte chunks)",
      r.status)
try:
    r = chunked(big, 8192)
    check(r.status == 413, "a chunked body over 64 KiB: 413", r.status)
except (ConnectionError, OSError) as e:
    fail(f"a chunked body over 64 KiB: connection error {e}")
# truncated: Content-Length says more than is sent, then the client closes
with connect(srv) as s:
    s.sendall(f"POST /sdapi/v1/txt2img HTTP/1.1\r\nHost: {H}\r\nContent-Length: 200\r\n\r\n"
              '{"prompt": "a red'.encode())
    s.shutdown(socket.SHUT_WR)
    s.settimeout(30)
    try:
        rest = s.recv(4096)
    except OSError:
        rest = b""
check(not rest.startswith(b"HTTP/1.1 200"), "a truncated body gets no 200", rest[:80])
r = request(srv, "GET", "/healthz")
check(r.status == 200, "the server still answers after a truncated body")

# --- a stalled client does not block others --------------------------------------------------
stalled = connect(srv)
stalled.sendall(f"POST /sdapi/v1/txt2img HTTP/1.1\r\nHost: {H}\r\nContent-Length: 100\r\n\r\n{{".encode())
stalled2 = connect(srv)
stalled2.sendall(b"GET /heal")  # half a request line
t0 = time.time()
r1 = request(srv, "GET", "/healthz")
r2 = txt2img(srv, prompt=P, steps=2)
check(r1.status == 200 and r2.status == 200 and time.time() - t0 < 60,
      "two stalled clients do not block others", (r1.status, r2.status, time.time() - t0))
stalled.close()
stalled2.close()

# --- 8 concurrent clients: each gets 200, or 429 with Retry-After when the queue is full -------
results = [None] * 8


def client(i):
    try:
        results[i] = txt2img(srv, prompt=P, seed=i, steps=4)
    except Exception as e:  # noqa: BLE001 - a test records any failure
        results[i] = e


threads = [threading.Thread(target=client, args=(i,)) for i in range(8)]
for t in threads:
    t.start()
for t in threads:
    t.join(600)
statuses = [getattr(x, "status", repr(x)) for x in results]
# at least the queue's two are accepted (a third when the worker took the first one off the
# queue before the others arrived)
check(all(s in (200, 429) for s in statuses) and statuses.count(200) >= 2,
      "8 concurrent clients: all answered 200 or 429", statuses)
busy = [x for x in results if getattr(x, "status", 0) == 429]
check(all(x.headers.get("retry-after") and (x.error() or "").startswith("queue: ") for x in busy),
      f"429s carry Retry-After ({len(busy)} of 8)")

# --- a client that goes away cancels its job --------------------------------------------------
s = connect(srv)
body = json.dumps(dict(prompt=P, steps=150)).encode()
s.sendall(f"POST /sdapi/v1/txt2img HTTP/1.1\r\nHost: {H}\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body)
time.sleep(1.0)
s.close()
t0 = time.time()
idle = False
while time.time() - t0 < 60:
    j = request(srv, "GET", "/sdapi/v1/progress").json()
    if j["state"]["job_count"] == 0:
        idle = True
        break
    time.sleep(0.2)
check(idle and any(" 499 " in line for line in srv.log),
      "a client that goes away cancels its job (logged 499)", srv.log[-3:])

# --- the log: one line per request ------------------------------------------------------------
lines = [l for l in srv.log if l.startswith("xattn serve: ") and " ms" in l]
check(any(l.startswith("xattn serve: GET /healthz 200 ") for l in lines)
      and any(l.startswith("xattn serve: POST /sdapi/v1/txt2img 429 ") for l in lines) == bool(busy)
      and any(l.startswith("xattn serve: GET /nope 404 ") for l in lines),
      "one log line per request: method, path, status, ms", lines[-3:])

# --- SIGTERM: exit 0 (under ASan: no leak) ----------------------------------------------------
rc = srv.stop(signal.SIGTERM)
check(rc == 0, "SIGTERM: exit 0", (rc, srv.log[-3:]))

# --- another address: a warning line; --cors; SIGINT ends it too ------------------------------
CORS = "http://localhost:3000"
srv2 = Server("--host", "127.0.0.2", "--cors", CORS)
check(any("warning" in l and "127.0.0.2" in l for l in srv2.log), "--host 127.0.0.2: a warning line",
      srv2.log)
with socket.create_connection(("127.0.0.2", srv2.port), timeout=30) as c:
    c.sendall(f"GET /healthz HTTP/1.1\r\nHost: 127.0.0.2:{srv2.port}\r\nConnection: close\r\n\r\n".encode())
    r = read_response(c)
check(r.status == 200, "answers on the address --host names", r.status)


def ask2(method, path, body=b"", headers=""):
    with socket.create_connection(("127.0.0.2", srv2.port), timeout=120) as c:
        c.sendall(f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.2:{srv2.port}\r\nConnection: close\r\n"
                  f"{headers}Content-Length: {len(body)}\r\n\r\n".encode() + body)
        return read_response(c)


r = ask2("OPTIONS", "/sdapi/v1/txt2img", headers=f"Origin: {CORS}\r\nAccess-Control-Request-Method: POST\r\n")
check(r.status == 204 and r.headers.get("access-control-allow-origin") == CORS
      and "POST" in r.headers.get("access-control-allow-methods", ""), "--cors: the preflight", r.headers)
r = ask2("POST", "/sdapi/v1/txt2img", json.dumps(dict(prompt=P, steps=2)).encode(), f"Origin: {CORS}\r\n")
check(r.status == 200 and r.headers.get("access-control-allow-origin") == CORS,
      "--cors: the named origin may call the API", r.status)
r = ask2("POST", "/sdapi/v1/txt2img", json.dumps(dict(prompt=P, steps=2)).encode(), "Origin: http://evil.example\r\n")
check(r.status == 403 and "access-control-allow-origin" not in r.headers, "--cors: another origin: 403", r.status)
rc = srv2.stop(signal.SIGINT)
check(rc == 0, "SIGINT: exit 0", rc)

# --- no sampler_name, no steps: the model's sampler and the library's 30 steps, as the CLI ------
srv3 = Server(model="weights/shapes32")
r = txt2img(srv3, prompt=P, seed=3)
p3 = r.json().get("parameters", {}) if r.status == 200 else {}
meta = png_info(r.json()["images"][0])[3] if r.status == 200 else {}
check(p3.get("sampler_name") == "UniPC" and p3.get("steps") == 30 and meta.get("sampler") == "unipc"
      and meta.get("steps") == "30", "defaults: shapes32's UniPC at 30 steps", (p3, meta))
rc = srv3.stop()
check(rc == 0, "shapes32 server: exit 0", rc)

finish()
