"""Pipelines and transactions: redis-py's semantics (buffering, MULTI/EXEC,
WATCH in immediate mode, WatchError, raise_on_error), also across threads."""

from __future__ import annotations

import threading

import pytest

import emberkv
from emberkv.exceptions import DataError, RedisError, ResponseError, WatchError


def test_pipeline_buffers_and_chains(r: emberkv.Redis) -> None:
    with r.pipeline() as pipe:
        assert pipe.set("a", 1) is pipe
        pipe.incr("a").get("a").mget("a", "nope").ping()
        assert len(pipe) == 5
        assert r.get("a") is None  # nothing ran yet
        assert pipe.execute() == [True, 2, b"2", [b"2", None], True]
        assert len(pipe) == 0
        assert pipe.execute() == []


def test_non_transaction_pipeline(rr: emberkv.Redis) -> None:
    pipe = rr.pipeline(transaction=False)
    pipe.set("a", "x").incr("a").get("a")
    res = pipe.execute(raise_on_error=False)
    assert res[0] is True and res[2] in (b"x", "x")
    assert isinstance(res[1], ResponseError)
    pipe.set("a", "x").incr("a").get("a")
    with pytest.raises(ResponseError, match=r"Command # 2 \(INCRBY a 1\) of pipeline caused error: value is not an integer"):
        pipe.execute()


def test_transaction_errors(r: emberkv.Redis) -> None:
    # a runtime error inside EXEC: other commands still run
    pipe = r.pipeline()
    pipe.set("a", "x").incr("a").set("b", 1)
    res = pipe.execute(raise_on_error=False)
    assert res[0] is True and isinstance(res[1], ResponseError) and res[2] is True
    assert r.get("b") == b"1"
    # a command refused while queueing aborts the whole transaction (EXECABORT)
    pipe.set("c", 1).execute_command("NOSUCHCOMMAND").set("d", 1)
    with pytest.raises(ResponseError, match="Command # 2 \\(NOSUCHCOMMAND\\) of pipeline caused error: unknown command"):
        pipe.execute()
    assert r.exists("c", "d") == 0


def test_pipeline_argument_errors_raise_early(r: emberkv.Redis) -> None:
    pipe = r.pipeline()
    pipe.set("a", True)  # type: ignore[arg-type]
    with pytest.raises(DataError):
        pipe.execute()
    assert r.exists("a") == 0


def test_watch_immediate_mode_then_multi(r: emberkv.Redis) -> None:
    r.set("balance", 100)
    with r.pipeline() as pipe:
        assert pipe.watch("balance") is True
        assert pipe.watching
        bal = int(pipe.get("balance"))  # immediate
        pipe.multi()
        pipe.set("balance", bal - 30)
        pipe.get("balance")
        assert pipe.execute() == [True, b"70"]
        assert not pipe.watching


def test_watch_error_when_key_changes(r: emberkv.Redis) -> None:
    r.set("k", 1)
    pipe = r.pipeline()
    pipe.watch("k")
    r.set("k", 2)  # another client changes the watched key
    pipe.multi()
    pipe.set("k", 3)
    with pytest.raises(WatchError):
        pipe.execute()
    assert r.get("k") == b"2"
    # the pipeline was reset and is usable again
    pipe.set("k", 4)
    assert pipe.execute() == [True]


def test_multi_misuse(r: emberkv.Redis) -> None:
    pipe = r.pipeline()
    pipe.multi()
    with pytest.raises(RedisError, match="nested"):
        pipe.multi()
    with pytest.raises(RedisError, match="WATCH after a MULTI"):
        pipe.watch("a")
    pipe.reset()
    pipe.set("a", 1)
    with pytest.raises(RedisError, match="without an initial WATCH"):
        pipe.multi()


def test_unwatch_and_discard(r: emberkv.Redis) -> None:
    pipe = r.pipeline()
    pipe.watch("a")
    assert pipe.unwatch() is True
    assert not pipe.watching
    r.set("a", 1)
    pipe.multi()
    pipe.set("a", 2)
    assert pipe.execute() == [True]


def test_transaction_helper(r: emberkv.Redis) -> None:
    r.set("counter", 5)

    def double(pipe: emberkv.Pipeline) -> int:
        v = int(pipe.get("counter"))
        pipe.multi()
        pipe.set("counter", v * 2)
        return v

    assert r.transaction(double, "counter") == [True]
    assert r.transaction(double, "counter", value_from_callable=True) == 10
    assert r.get("counter") == b"20"


def test_transaction_retries_on_watch_error(r: emberkv.Redis) -> None:
    r.set("n", 0)
    calls = []

    def bump(pipe: emberkv.Pipeline) -> None:
        v = int(pipe.get("n"))
        calls.append(v)
        if len(calls) == 1:
            r.set("n", 100)  # interfere once
        pipe.multi()
        pipe.set("n", v + 1)

    r.transaction(bump, "n")
    assert calls == [0, 100]
    assert r.get("n") == b"101"


def test_watch_race_across_threads(r: emberkv.Redis) -> None:
    """Optimistic increments from several threads: WATCH/EXEC must never lose
    one, and every conflict surfaces as WatchError (retried by transaction())."""
    r.set("hits", 0)
    threads, per_thread = 4, 200
    conflicts = []

    def worker() -> None:
        mine = r.client()
        for _ in range(per_thread):
            def incr(pipe: emberkv.Pipeline) -> None:
                v = int(pipe.get("hits"))
                pipe.multi()
                pipe.set("hits", v + 1)

            while True:
                try:
                    with mine.pipeline() as pipe:
                        pipe.watch("hits")
                        incr(pipe)
                        pipe.execute()
                    break
                except WatchError:
                    conflicts.append(1)

    ts = [threading.Thread(target=worker) for _ in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert r.get("hits") == str(threads * per_thread).encode()


def test_shared_client_transactions_across_threads(r: emberkv.Redis) -> None:
    """One Redis object shared by threads, each using r.transaction()."""
    r.set("total", 0)

    def worker() -> None:
        for _ in range(100):
            r.transaction(lambda p: (lambda v: (p.multi(), p.set("total", v + 1)))(int(p.get("total"))), "total")

    ts = [threading.Thread(target=worker) for _ in range(3)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert r.get("total") == b"300"


def test_transaction_is_atomic_for_other_threads(r: emberkv.Redis) -> None:
    """Readers never see half of a MULTI block."""
    stop = threading.Event()
    torn = []

    def reader() -> None:
        mine = r.client()
        while not stop.is_set():
            a, b_ = mine.mget("x", "y")
            if a != b_:
                torn.append((a, b_))

    t = threading.Thread(target=reader)
    t.start()
    try:
        for i in range(300):
            with r.pipeline() as pipe:
                pipe.set("x", i).set("y", i)
                pipe.execute()
    finally:
        stop.set()
        t.join()
    assert torn == []


def test_pipeline_decoded(rd: emberkv.Redis) -> None:
    with rd.pipeline() as pipe:
        pipe.set("k", "v").get("k").config_get("hz")
        assert pipe.execute() == [True, "v", {"hz": "10"}]
