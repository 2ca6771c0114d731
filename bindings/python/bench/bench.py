"""Side-by-side throughput of emberkv and the usual Python Redis options.

    python bindings/python/bench/bench.py [--seconds 1.0] [--pubsub 200000]

Targets (columns):
  emberkv            emberkv.Redis(), in-process, one call per command
  emberkv pipe100    emberkv pipeline(transaction=False), 100 commands per execute()
  redis-py           redis.Redis (hiredis parser when installed) -> local redis-server
  redis-py pipe100   the same, pipelined by 100
  fakeredis          fakeredis.FakeRedis (pure-Python in-process fake)

Workloads (rows), all from one Python thread:
  GET / SET                  16-byte value, 1000 keys
  LPUSH+LRANGE 0 49          one LPUSH then one LRANGE of 50 elements  (pairs/s)
  HSET+HGETALL               one HSET then HGETALL of a 10-field hash  (pairs/s)
  ZADD+ZRANGE                one ZADD then ZRANGE 0 9 WITHSCORES of a 100-member zset (pairs/s)
  PUBLISH->receive           messages/s delivered to a consumer thread calling get_message();
                             a producer thread publishes (pipelined by 100 in the pipe100 columns)

redis-server is started on 127.0.0.1 with a free port in a temp dir and stopped
by PID. Each cell runs for about --seconds of wall time; ops/s are wall-clock
(the CPU-time rate is printed beside emberkv, since the machine may be shared).
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any, Callable, Dict, List, Optional, Tuple

import emberkv

try:
    import redis
except ImportError:  # pragma: no cover
    redis = None  # type: ignore[assignment]
try:
    import fakeredis
except ImportError:  # pragma: no cover
    fakeredis = None  # type: ignore[assignment]

KEYS = [f"key:{i}" for i in range(1000)]
VALUE = "v" * 16


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    def __init__(self) -> None:
        self.dir = tempfile.mkdtemp(prefix="emberkv-bench-")
        self.port = free_port()
        exe = shutil.which("redis-server")
        if exe is None:
            raise RuntimeError("redis-server not installed")
        self.proc = subprocess.Popen(
            [exe, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", self.dir],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("redis-server did not start")
                time.sleep(0.02)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)
        shutil.rmtree(self.dir, ignore_errors=True)


def timed(fn: Callable[[int], int], seconds: float) -> Tuple[float, float]:
    """Runs fn(batch) repeatedly for ~seconds; returns (wall ops/s, cpu ops/s)."""
    fn(100)  # warm up
    batch = 1000
    ops = 0
    t0, c0 = time.perf_counter(), time.process_time()
    while True:
        ops += fn(batch)
        dt = time.perf_counter() - t0
        if dt >= seconds:
            break
        if dt < seconds / 20:
            batch *= 2
    return ops / dt, ops / max(time.process_time() - c0, 1e-9)


# ---- workloads: each returns fn(batch) -> ops done ------------------------------


def w_get(r: Any, pipe: bool) -> Callable[[int], int]:
    for k in KEYS:
        r.set(k, VALUE)
    if pipe:
        def run(n: int) -> int:
            done = 0
            while done < n:
                p = r.pipeline(transaction=False)
                for k in KEYS[:100]:
                    p.get(k)
                p.execute()
                done += 100
            return done
        return run
    get = r.get
    keys = KEYS

    def run1(n: int) -> int:
        for i in range(n):
            get(keys[i % 1000])
        return n
    return run1


def w_set(r: Any, pipe: bool) -> Callable[[int], int]:
    if pipe:
        def run(n: int) -> int:
            done = 0
            while done < n:
                p = r.pipeline(transaction=False)
                for k in KEYS[:100]:
                    p.set(k, VALUE)
                p.execute()
                done += 100
            return done
        return run
    set_ = r.set
    keys = KEYS

    def run1(n: int) -> int:
        for i in range(n):
            set_(keys[i % 1000], VALUE)
        return n
    return run1


def _pairs(r: Any, pipe: bool, first: Callable[[Any, int], Any], second: Callable[[Any, int], Any]) -> Callable[[int], int]:
    if pipe:
        def run(n: int) -> int:
            done = 0
            while done < n:
                p = r.pipeline(transaction=False)
                for i in range(50):
                    first(p, i)
                    second(p, i)
                p.execute()
                done += 50
            return done
        return run

    def run1(n: int) -> int:
        for i in range(n):
            first(r, i)
            second(r, i)
        return n
    return run1


def w_list(r: Any, pipe: bool) -> Callable[[int], int]:
    r.delete("list")
    r.lpush("list", *range(50))
    return _pairs(r, pipe, lambda c, i: c.lpush("list", i), lambda c, i: c.lrange("list", 0, 49))


def w_hash(r: Any, pipe: bool) -> Callable[[int], int]:
    r.delete("hash")
    r.hset("hash", mapping={f"f{i}": VALUE for i in range(10)})
    return _pairs(r, pipe, lambda c, i: c.hset("hash", f"f{i % 10}", i), lambda c, i: c.hgetall("hash"))


def w_zset(r: Any, pipe: bool) -> Callable[[int], int]:
    r.delete("zset")
    r.zadd("zset", {f"m{i}": i for i in range(100)})
    return _pairs(r, pipe, lambda c, i: c.zadd("zset", {f"m{i % 100}": i}), lambda c, i: c.zrange("zset", 0, 9, withscores=True))


def pubsub_rate(r: Any, producer: Any, pipe: bool, count: int) -> Tuple[float, float]:
    """Messages/s from a producer thread to a consumer calling get_message()."""
    p = r.pubsub(ignore_subscribe_messages=True)
    p.subscribe("bench")
    while p.get_message(timeout=1) is not None:
        pass
    payload = "m" * 16
    window = threading.Semaphore(50)  # at most 50 batches of 100 in flight: bounded queues

    def produce() -> None:
        sent = 0
        while sent < count:
            window.acquire()
            if pipe:
                pp = producer.pipeline(transaction=False)
                for _ in range(100):
                    pp.publish("bench", payload)
                pp.execute()
            else:
                for _ in range(100):
                    producer.publish("bench", payload)
            sent += 100

    t = threading.Thread(target=produce)
    t0, c0 = time.perf_counter(), time.process_time()
    t.start()
    got = 0
    get = p.get_message
    while got < count:
        m = get(timeout=5)
        if m is None:
            raise RuntimeError(f"pub/sub stalled after {got} messages")
        got += 1
        if got % 100 == 0:
            window.release()
    dt = time.perf_counter() - t0
    cpu = time.process_time() - c0
    t.join()
    p.close()
    return count / dt, count / cpu


WORKLOADS: List[Tuple[str, Callable[[Any, bool], Callable[[int], int]], Tuple[str, ...]]] = [
    ("GET", w_get, ("get",)),
    ("SET", w_set, ("set",)),
    ("LPUSH+LRANGE 0 49", w_list, ("lpush", "lrange")),
    ("HSET+HGETALL", w_hash, ("hset", "hgetall")),
    ("ZADD+ZRANGE", w_zset, ("zadd", "zrange")),
]


def fmt(v: Optional[float]) -> str:
    if v is None:
        return "n/a"
    if v >= 1e6:
        return f"{v / 1e6:.2f} M"
    return f"{v / 1e3:.0f} k"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=1.0, help="wall time per cell")
    ap.add_argument("--pubsub", type=int, default=200_000, help="messages per pub/sub cell")
    ap.add_argument("--only", default="", help="comma-separated targets (emberkv,emberkv-pipe,redis,redis-pipe,fakeredis)")
    args = ap.parse_args()

    server = None
    targets: Dict[str, Callable[[], Any]] = {"emberkv": lambda: emberkv.Redis(), "emberkv-pipe": lambda: emberkv.Redis()}
    if redis is not None and shutil.which("redis-server"):
        server = Server()
        targets["redis"] = lambda: redis.Redis(port=server.port)  # type: ignore[union-attr]
        targets["redis-pipe"] = lambda: redis.Redis(port=server.port)  # type: ignore[union-attr]
    if fakeredis is not None:
        fake_server = fakeredis.FakeServer()
        targets["fakeredis"] = lambda: fakeredis.FakeRedis(server=fake_server)
    if args.only:
        wanted = set(args.only.split(","))
        targets = {k: v for k, v in targets.items() if k in wanted}

    hiredis = "no"
    try:
        import hiredis as _h  # noqa: F401

        hiredis = "yes"
    except ImportError:
        pass
    print(f"python {platform.python_version()}, emberkv {emberkv.__version__}, redis-py {getattr(redis, '__version__', '-')} (hiredis: {hiredis}), "
          f"fakeredis {getattr(fakeredis, '__version__', '-')}, load average {os.getloadavg()[0]:.2f}, {os.cpu_count()} cpus")
    results: Dict[Tuple[str, str], Optional[float]] = {}
    cpu_rates: Dict[Tuple[str, str], float] = {}
    notes: List[str] = []
    try:
        for name, make in targets.items():
            pipe = name.endswith("-pipe")
            for wname, wfn, cmds in WORKLOADS:
                r = make()
                if name.startswith("emberkv"):
                    info = r._conn.execute("COMMAND", "INFO", *cmds)
                    missing = [c.upper() for c, i in zip(cmds, info) if i is None]
                    if missing:
                        results[(wname, name)] = None
                        note = f"emberkv: the engine does not implement {', '.join(missing)} yet"
                        if note not in notes:
                            notes.append(note)
                        continue
                r.flushall()
                wall, cpu = timed(wfn(r, pipe), args.seconds)
                results[(wname, name)] = wall
                cpu_rates[(wname, name)] = cpu
                print(f"  {name:14s} {wname:20s} {fmt(wall):>8s}/s wall  {fmt(cpu):>8s}/s cpu", file=sys.stderr, flush=True)
            r = make()
            n = args.pubsub if not name.startswith("fakeredis") else min(args.pubsub, 20_000)
            producer = r.client() if name.startswith("emberkv") else make()
            try:
                wall, cpu = pubsub_rate(r, producer, pipe, n)
            except RuntimeError as e:
                notes.append(f"{name}: PUBLISH->receive: {e}")
                continue
            results[("PUBLISH->receive", name)] = wall
            cpu_rates[("PUBLISH->receive", name)] = cpu
            print(f"  {name:14s} {'PUBLISH->receive':20s} {fmt(wall):>8s}/s wall  {fmt(cpu):>8s}/s cpu", file=sys.stderr, flush=True)
    finally:
        if server is not None:
            server.stop()

    cols = list(targets)
    rows = [w[0] for w in WORKLOADS] + ["PUBLISH->receive"]
    head = f"| {'ops/s (wall)':22s} | " + " | ".join(f"{c:>16s}" for c in cols) + " | emberkv cpu-time rate |"
    print(head)
    print("|" + "-" * (len(head) - 2) + "|")
    for row in rows:
        cells = [fmt(results.get((row, c))) for c in cols]
        cpu = cpu_rates.get((row, "emberkv"))
        print(f"| {row:22s} | " + " | ".join(f"{c:>16s}" for c in cells) + f" | {fmt(cpu):>21s} |")
    for n in notes:
        print(n)
    return 0


if __name__ == "__main__":
    sys.exit(main())
