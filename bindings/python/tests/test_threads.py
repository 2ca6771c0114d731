"""One emberkv.Redis shared by threads; the GIL is released around long
commands; interpreter exit with engines, subscriptions and threads alive."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import time

import pytest

import emberkv


def test_shared_client_many_threads(r: emberkv.Redis) -> None:
    n, per = 8, 2000
    errors = []

    def worker(i: int) -> None:
        try:
            for j in range(per):
                r.set(f"t{i}:{j}", j)
                assert r.get(f"t{i}:{j}") == str(j).encode()
                r.incr("total")
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    ts = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert errors == []
    assert r.get("total") == str(n * per).encode()
    assert r.dbsize() == n * per + 1


def test_long_command_releases_the_gil(r: emberkv.Redis) -> None:
    assert r._conn.command_class(b"debug") == "detach"
    assert r._conn.command_class(b"get") == "gil"
    counter = [0]
    stop = threading.Event()

    def spin() -> None:
        while not stop.is_set():
            counter[0] += 1

    t = threading.Thread(target=spin)
    t.start()
    try:
        r.execute_command("DEBUG", "SLEEP", "0.3")
    finally:
        stop.set()
        t.join()
    assert counter[0] > 10_000


def test_other_threads_run_while_one_waits(r: emberkv.Redis) -> None:
    """A thread sitting in a long command on the shared client does not stall
    the others: they use pooled engine clients."""
    started = threading.Event()

    def sleeper() -> None:
        started.set()
        r.execute_command("DEBUG", "SLEEP", "0.5")

    t = threading.Thread(target=sleeper)
    t.start()
    started.wait()
    time.sleep(0.05)
    t0 = time.monotonic()
    for i in range(100):
        r.set(f"k{i}", i)
    assert time.monotonic() - t0 < 0.4
    t.join()


def test_blocking_pop_on_shared_client(r: emberkv.Redis) -> None:
    if r._conn.execute("COMMAND", "INFO", "blpop")[0] is None:
        pytest.skip("the engine does not implement BLPOP yet")
    got = []
    t = threading.Thread(target=lambda: got.append(r.blpop("jobs", timeout=5)))
    t.start()
    time.sleep(0.1)
    r.rpush("jobs", "j1")  # same Redis object, while the other thread blocks
    t.join(5)
    assert got == [(b"jobs", b"j1")]


EXIT_SCRIPT = textwrap.dedent(
    """
    import threading, emberkv, emberkv.asyncio, asyncio
    r = emberkv.Redis()
    p = r.pubsub()
    p.subscribe(ch=lambda m: None)
    worker = p.run_in_thread(daemon=True)          # still waiting at exit
    waiting = r.pubsub(); waiting.subscribe("x")
    threading.Thread(target=lambda: waiting.get_message(timeout=None), daemon=True).start()
    for i in range(2000):
        r.publish("ch", i)
    async def main():
        a = emberkv.asyncio.Redis()
        ps = a.pubsub(); await ps.subscribe("y")
        await ps.get_message(timeout=0.01)
        asyncio.ensure_future(ps.get_message(timeout=None))   # helper thread parked in recv
        await asyncio.sleep(0.01)
    asyncio.run(main())
    print("bye")
    """
)


def test_interpreter_exit_with_live_engines_and_threads() -> None:
    for _ in range(3):
        out = subprocess.run([sys.executable, "-c", EXIT_SCRIPT], capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        assert out.stdout.strip() == "bye"
        assert "Fatal" not in out.stderr
