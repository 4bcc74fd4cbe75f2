"""serve_lib.py — what the `xattn serve` tests share: start the server on an ephemeral loopback
port, talk HTTP/1.1 to it over raw sockets (so that a test can send any bytes: a foreign Host, a
chunked or truncated body), decode its PNGs. Standard library only; 127.0.0.1 only."""
import base64
import json
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import zlib

XATTN = os.environ["XATTN"]
SOURCE = os.environ.get("XATTN_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
TMP = os.environ.get("XATTN_TEST_TMP", "/tmp")

fails = 0


def ok(what):
    print("ok " + what, flush=True)


def fail(what):
    global fails
    fails += 1
    print("FAIL " + what, flush=True)


def check(cond, what, detail=""):
    if cond:
        ok(what)
    else:
        fail(what + (": " + str(detail)[:300] if detail != "" else ""))
    return cond


def finish():
    if fails:
        print(f"{fails} failed")
        sys.exit(1)
    sys.exit(0)


class Server:
    """xattn serve on 127.0.0.1, any free port; its stderr lines are collected in self.log."""

    def __init__(self, *args, model="weights/tiny-random"):
        self.args = [XATTN, "serve", "-m", os.path.join(SOURCE, model), "--prompts",
                     os.path.join(SOURCE, "assets"), "--port", "0", "-t", "1", *args]
        self.p = subprocess.Popen(self.args, stderr=subprocess.PIPE, text=True,
                                  env=dict(os.environ, OMP_WAIT_POLICY="passive"))
        self.log = []
        self.port = None
        started = threading.Event()

        def read():
            for line in self.p.stderr:
                self.log.append(line.rstrip("\n"))
                m = re.search(r"listening on http://[^ ]*:(\d+)/", line)
                if m:
                    self.port = int(m.group(1))
                    started.set()
            started.set()

        self.reader = threading.Thread(target=read, daemon=True)
        self.reader.start()
        started.wait(120)
        if self.port is None:
            raise RuntimeError("the server did not start: " + " | ".join(self.log[-5:]))
        self.host = f"127.0.0.1:{self.port}"

    def stop(self, sig=signal.SIGTERM, timeout=60):
        """Sends sig and returns the exit code (None if it did not end in time)."""
        self.p.send_signal(sig)
        try:
            rc = self.p.wait(timeout)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
            return None
        self.reader.join(10)
        return rc


class Response:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body

    def json(self):
        return json.loads(self.body)

    def error(self):
        try:
            j = self.json()
            return j.get("error", "") if isinstance(j, dict) and list(j) == ["error"] else None
        except ValueError:
            return None


def read_response(s, timeout=120):
    s.settimeout(timeout)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(65536)
        if not chunk:
            raise ConnectionError("closed before the headers")
        data += chunk
    head, body = data.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    if "content-length" in headers:
        n = int(headers["content-length"])
        while len(body) < n:
            chunk = s.recv(65536)
            if not chunk:
                break
            body += chunk
    elif headers.get("transfer-encoding", "").lower() == "chunked":
        raw, body = body, b""
        while True:
            while b"\r\n" not in raw:
                raw += s.recv(65536)
            size_line, raw = raw.split(b"\r\n", 1)
            n = int(size_line.split(b";")[0], 16)
            while len(raw) < n + 2:
                raw += s.recv(65536)
            if n == 0:
                break
            body += raw[:n]
            raw = raw[n + 2:]
    else:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            body += chunk
    return Response(status, headers, body)


def connect(srv):
    return socket.create_connection(("127.0.0.1", srv.port), timeout=120)


def request(srv, method, path, body=None, headers=None, host=None, timeout=300):
    """One request on a fresh connection (Connection: close); body: bytes, str or a JSON value."""
    if body is not None and not isinstance(body, (bytes, str)):
        body = json.dumps(body)
    if isinstance(body, str):
        body = body.encode()
    h = {"Host": host if host is not None else srv.host, "Connection": "close"}
    if body is not None:
        h["Content-Type"] = "application/json"
        h["Content-Length"] = str(len(body))
    h.update(headers or {})
    head = f"{method} {path} HTTP/1.1\r\n" + "".join(
        f"{k}: {v}\r\n" for k, v in h.items() if v is not None) + "\r\n"
    with connect(srv) as s:
        s.sendall(head.encode("latin-1") + (body or b""))
        return read_response(s, timeout)


def txt2img(srv, **fields):
    return request(srv, "POST", "/sdapi/v1/txt2img", fields)


def png_chunks(data):
    """[(type, payload)] of a PNG, checking the signature and every CRC."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    out, at = [], 8
    while at < len(data):
        n, = struct.unpack(">I", data[at:at + 4])
        t = data[at + 4:at + 8]
        payload = data[at + 8:at + 8 + n]
        crc, = struct.unpack(">I", data[at + 8 + n:at + 12 + n])
        assert zlib.crc32(t + payload) & 0xffffffff == crc, "bad CRC in " + t.decode("latin-1")
        out.append((t.decode("latin-1"), payload))
        at += 12 + n
    return out


def png_info(b64):
    """(width, height, color_type, {iTXt key: value}) of a base64 PNG."""
    chunks = png_chunks(base64.b64decode(b64))
    w, h, depth, color = struct.unpack(">IIBB", chunks[0][1][:10])
    text = {}
    for t, p in chunks:
        if t == "iTXt":
            key, rest = p.split(b"\0", 1)
            rest = rest[2:]  # compression flag, method
            _lang, rest = rest.split(b"\0", 1)
            _tkey, value = rest.split(b"\0", 1)
            text[key.decode("latin-1")] = value.decode("utf-8")
    return w, h, color, text


def png_pixels(b64):
    """The decompressed, unfiltered-as-stored IDAT bytes: equal images give equal bytes."""
    return zlib.decompress(b"".join(p for t, p in png_chunks(base64.b64decode(b64)) if t == "IDAT"))
