"""emberkv.asyncio: the same API awaited; waits never block the event loop."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any, Awaitable, Callable, List

import pytest
from _util import require

import emberkv
import emberkv.asyncio as ea
from emberkv.exceptions import ResponseError, WatchError


def run(coro: Awaitable[Any]) -> Any:
    return asyncio.run(coro)  # type: ignore[arg-type]


async def ticking(during: Callable[[], Awaitable[Any]]) -> tuple[Any, int]:
    """Runs ``during()`` while a task counts event-loop turns."""
    ticks = 0
    stop = False

    async def tick() -> None:
        nonlocal ticks
        while not stop:
            ticks += 1
            await asyncio.sleep(0.001)

    t = asyncio.ensure_future(tick())
    try:
        result = await during()
    finally:
        stop = True
        await t
    return result, ticks


def test_commands_both_modes() -> None:
    async def main() -> None:
        for decode in (False, True):
            r = ea.Redis(decode_responses=decode)
            s = (lambda x: x) if decode else (lambda x: x.encode())
            assert await r.set("k", "v") is True
            assert await r.get("k") == s("v")
            assert await r.mget("k", "nope") == [s("v"), None]
            assert await r.incrbyfloat("f", 2.5) == 2.5
            assert await r.config_get("hz") == {"hz": "10"}
            assert await r.execute_command("SET", "x", 1) is True
            with pytest.raises(ResponseError):
                await r.incr("k")
            await r.mset({f"key{i}": i for i in range(50)})
            assert len([k async for k in r.scan_iter(match="key*", count=7)]) == 50
            await r.aclose()

    run(main())


def test_async_context_and_from_url() -> None:
    async def main() -> None:
        async with ea.Redis.from_url("emberkv://") as r:
            assert await r.ping() is True
            other = r.client()
            await r.set("a", 1)
            assert await other.get("a") == b"1"

    run(main())


def test_pipeline_and_transaction() -> None:
    async def main() -> None:
        r = ea.Redis()
        async with r.pipeline() as pipe:
            pipe.set("a", 1).incr("a").get("a")
            assert await pipe.execute() == [True, 2, b"2"]
        pipe = r.pipeline(transaction=False)
        pipe.set("s", "x").incr("s")
        res = await pipe.execute(raise_on_error=False)
        assert res[0] is True and isinstance(res[1], ResponseError)

        await r.set("n", 1)

        async def bump(p: ea.Pipeline) -> int:
            v = int(await p.get("n"))
            p.multi()
            p.set("n", v + 1)
            return v

        assert await r.transaction(bump, "n", value_from_callable=True) == 1
        assert await r.get("n") == b"2"

        p = r.pipeline()
        await p.watch("n")
        await r.set("n", 10)
        p.multi()
        p.set("n", 11)
        with pytest.raises(WatchError):
            await p.execute()
        assert await r.get("n") == b"10"

    run(main())


def test_pubsub_wait_does_not_block_loop() -> None:
    async def main() -> None:
        r = ea.Redis(decode_responses=True)
        p = r.pubsub()
        await p.subscribe("ch")
        assert await p.get_message(timeout=1) == {"type": "subscribe", "pattern": None, "channel": "ch", "data": 1}

        def publish_later() -> None:
            time.sleep(0.2)
            emberkv.Redis(_database=r._database).publish("ch", "from-thread")

        t = threading.Thread(target=publish_later)
        t.start()
        start = time.monotonic()
        msg, ticks = await ticking(lambda: p.get_message(timeout=5))
        t.join()
        assert msg == {"type": "message", "pattern": None, "channel": "ch", "data": "from-thread"}
        assert time.monotonic() - start < 2
        assert ticks > 20  # the loop kept running while we waited

        none, ticks = await ticking(lambda: p.get_message(timeout=0.1))
        assert none is None and ticks > 5
        await p.aclose()

    run(main())


def test_pubsub_listen_and_handlers() -> None:
    async def main() -> None:
        r = ea.Redis()
        p = r.pubsub(ignore_subscribe_messages=True)
        seen: List[bytes] = []

        async def async_handler(m: Any) -> None:
            seen.append(m["data"])

        await p.subscribe("plain", handled=async_handler)

        async def producer() -> None:
            for i in range(20):
                await r.publish("plain", i)
                await r.publish("handled", i)
                await asyncio.sleep(0)

        prod = asyncio.ensure_future(producer())
        got = []
        async for m in p.listen():
            got.append(m["data"])
            if len(got) == 20:
                break
        await prod
        assert await p.get_message(timeout=1) is None  # runs the last handler
        assert got == [str(i).encode() for i in range(20)]
        assert seen == [str(i).encode() for i in range(20)]
        await p.aclose()

    run(main())


def test_pubsub_run_task() -> None:
    async def main() -> None:
        r = ea.Redis()
        p = r.pubsub()
        seen: List[bytes] = []
        await p.subscribe(news=lambda m: seen.append(m["data"]))
        task = asyncio.ensure_future(p.run())
        for i in range(10):
            await r.publish("news", i)
        for _ in range(200):
            if len(seen) == 10:
                break
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert seen == [str(i).encode() for i in range(10)]

    run(main())


def test_blocking_pop_does_not_block_loop() -> None:
    async def main() -> None:
        r = ea.Redis()
        require(r, "blpop", "rpush")

        async def push_later() -> None:
            await asyncio.sleep(0.1)
            await r.rpush("q", "job")

        asyncio.ensure_future(push_later())
        res, ticks = await ticking(lambda: r.blpop("q", timeout=5))
        assert res == (b"q", b"job")
        assert ticks > 10
        assert await r.blpop("q", timeout=0.05) is None

    run(main())


def test_cancelled_blocking_pop_loses_nothing() -> None:
    async def main() -> None:
        r = ea.Redis()
        require(r, "blpop", "rpush", "client")
        waiter = asyncio.ensure_future(r.blpop("q2", timeout=0))
        await asyncio.sleep(0.05)
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
        await asyncio.sleep(0.05)
        await r.rpush("q2", "kept")
        assert await r.lrange("q2", 0, -1) == [b"kept"]

    run(main())


def test_threaded_path_wakes_the_loop() -> None:
    """The path blocking commands take (a worker thread, then
    call_soon_threadsafe), exercised with a slow command the engine has."""

    async def main() -> None:
        r = ea.Redis()
        res, ticks = await ticking(lambda: r._threaded(("DEBUG", "SLEEP", "0.2")))
        assert res == b"OK"
        assert ticks > 20
        with pytest.raises(ResponseError, match="wrong number of arguments"):
            await r._threaded(("GET",))
        await r.set("k", "v")
        assert await r._threaded(("GET", "k")) == b"v"
        # many at once: each has its own engine client and thread
        results = await asyncio.gather(*[r._threaded(("DEBUG", "SLEEP", "0.1")) for _ in range(20)])
        assert results == [b"OK"] * 20

    run(main())
