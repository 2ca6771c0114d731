"""Attach benchmark (issue 10): sequential GET/SET round trips over a Unix
socket, one client thread, against an emberkv listener (in a separate
process) and a redis-server on the same machine:

  - redis-py -> redis-server, redis-py -> emberkv listener
  - emberkv.Redis.from_url -> emberkv listener, -> redis-server

    python bindings/python/bench/attach_bench.py [--seconds 2]

Needs redis (redis-py) and a redis-server binary; prints ops/s per case
(median of 3 rounds).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import redis

import emberkv

OWNER = "import sys, emberkv, time\nr = emberkv.Redis()\nl = r.listen(sys.argv[1])\nprint('ready', flush=True)\nsys.stdin.read()\n"


def rate(fn, seconds: float) -> float:
    n = 0
    end = time.perf_counter() + seconds
    t0 = time.perf_counter()
    while True:
        for _ in range(200):
            fn()
        n += 200
        if time.perf_counter() >= end:
            break
    return n / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=2.0)
    args = ap.parse_args()
    d = tempfile.mkdtemp(prefix="emberkv-attach-bench-")
    ember_sock, redis_sock = f"{d}/ember.sock", f"{d}/redis.sock"
    owner = subprocess.Popen([sys.executable, "-c", OWNER, f"unix://{ember_sock}"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert owner.stdout is not None and owner.stdout.readline().startswith("ready")
    server = subprocess.Popen(["redis-server", "--port", "0", "--unixsocket", redis_sock, "--save", "", "--appendonly", "no", "--dir", d], stdout=subprocess.DEVNULL)
    for _ in range(100):
        if os.path.exists(redis_sock):
            break
        time.sleep(0.05)
    try:
        clients = {
            "redis-py -> redis-server": redis.Redis(unix_socket_path=redis_sock),
            "redis-py -> emberkv listener": redis.Redis(unix_socket_path=ember_sock),
            "emberkv.from_url -> redis-server": emberkv.Redis.from_url(f"unix://{redis_sock}"),
            "emberkv.from_url -> emberkv listener": emberkv.Redis.from_url(f"unix://{ember_sock}"),
        }
        try:
            import hiredis  # noqa: F401
            parser = "hiredis"
        except ImportError:
            parser = "pure-Python parser"
        print(f"redis-py {redis.__version__} ({parser}); {args.seconds}s per round, median of 3")
        results = {name: {"GET": [], "SET": []} for name in clients}
        for _ in range(3):
            for name, c in clients.items():
                c.set("key:1", "x" * 16)
                results[name]["SET"].append(rate(lambda: c.set("key:1", "x" * 16), args.seconds / 2))
                results[name]["GET"].append(rate(lambda: c.get("key:1"), args.seconds / 2))
        print(f"{'case':40} {'GET ops/s':>12} {'SET ops/s':>12}")
        for name, r in results.items():
            print(f"{name:40} {statistics.median(r['GET']):12,.0f} {statistics.median(r['SET']):12,.0f}")
    finally:
        server.terminate()
        server.wait()
        assert owner.stdin is not None
        owner.stdin.close()
        owner.wait(10)
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
