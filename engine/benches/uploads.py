#!/usr/bin/env python3
"""What component uploads cost, on a release binary: (a) the store file after
six ~15 MB transformer uploads, each hook deleted after; (b) peak RSS while
8 uploads of ~15 MB each arrive in parallel from one academy.

usage: python3 engine/benches/uploads.py target/release/wasmhook \
    target/wasm-plugins/wasm32-wasip2/plugin/wasmhook_plugin_slack_transformer.wasm
"""
import concurrent.futures, json, os, re, subprocess, sys, tempfile, urllib.request

BIN, WASM = sys.argv[1], sys.argv[2]
ADMIN = "measure-admin"


def leb(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n == 0:
            out.append(b)
            return bytes(out)
        out.append(b | 0x80)


def padded(base, extra, tag):
    name = b"padding"
    content = leb(len(name)) + name + bytes([tag]) * extra
    return base + b"\x00" + leb(len(content)) + content


def call(url, method, path, token, body=None, raw=None):
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    req = urllib.request.Request(url + path, data=data, method=method)
    req.add_header("Authorization", f"Token {token}")
    if body is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=120) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def start(data):
    env = dict(os.environ, WASMHOOK_ADMIN_TOKEN=ADMIN, RUST_LOG="warn")
    p = subprocess.Popen([BIN, "serve", "--listen", "127.0.0.1:0", "--data-dir", data], env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = p.stdout.readline()
    return p, line.strip().removeprefix("wasmhook listening on ")


def vmhwm(pid):
    return int(re.search(r"VmHWM:\s+(\d+)", open(f"/proc/{pid}/status").read()).group(1)) // 1024


base = open(WASM, "rb").read()
big = 15 * 1000 * 1000
with tempfile.TemporaryDirectory() as d:
    data = os.path.join(d, "data")
    p, url = start(data)
    _, body = call(url, "POST", "/v1/admin/tokens", ADMIN, {"name": "n", "role": "academy", "academy": "north"})
    north = json.loads(body)["token"]
    store = os.path.join(data, "wasmhook.redb")
    size0 = os.path.getsize(store)
    statuses, sizes = [], []
    for i in range(6):
        s, body = call(url, "POST", "/v1/notify/hook/subscribe", north,
                       {"event": "form_entry.added", "target": "https://r.example/h"})
        hook = json.loads(body)["id"]
        s, _ = call(url, "PUT", f"/v1/notify/hook/subscribe/{hook}/transformer", north, raw=padded(base, big, i + 1))
        statuses.append(s)
        call(url, "DELETE", f"/v1/notify/hook/subscribe/{hook}", north)
        sizes.append(round(os.path.getsize(store) / 1e6, 1))
    size1 = os.path.getsize(store)
    print(f"(a) six ~15 MB transformers uploaded then their hooks deleted: upload statuses {statuses}; "
          f"store file {size0/1e6:.1f} MB -> {size1/1e6:.1f} MB (after each round: {sizes} MB)")

    hooks = []
    for _ in range(8):
        s, body = call(url, "POST", "/v1/notify/hook/subscribe", north,
                       {"event": "form_entry.added", "target": "https://r.example/h"})
        hooks.append(json.loads(body)["id"])
    rss0 = vmhwm(p.pid)
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        res = list(pool.map(lambda ih: call(url, "PUT", f"/v1/notify/hook/subscribe/{ih[1]}/transformer", north,
                                            raw=padded(base, big, 20 + ih[0]))[0], enumerate(hooks)))
    print(f"(b) 8 parallel ~15 MB uploads of one academy: statuses {sorted(res)}; "
          f"peak RSS {rss0} MB before them -> {vmhwm(p.pid)} MB after")
    p.terminate()
    p.wait()
