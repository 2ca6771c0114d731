"""Attaching to an embedded engine from other processes: ``Redis.listen``
serves it on Redis's protocol; ``Redis.from_url("unix:///…" | "redis://…")``
and plain redis-py attach with the same API (data, pipelines, transactions,
pub/sub pushed across processes, blocking commands, asyncio)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any, Iterator, List

import pytest

import emberkv
from emberkv.exceptions import AuthenticationError, ConfigError, ConnectionError, ResponseError, WatchError

# The owner process: opens an engine, listens, then obeys lines on stdin
# ("set k v", "publish ch msg", "rpush k v", "close", "exit") and answers
# each with one line on stdout.
OWNER = r"""
import sys, emberkv
r = emberkv.Redis()
l = r.listen(sys.argv[1])
print("ready", l.address, flush=True)
for line in sys.stdin:
    words = line.split()
    if not words:
        continue
    if words[0] == "close":
        l.close()
        print("closed", l.closed, flush=True)
    elif words[0] == "exit":
        break
    else:
        print(repr(r.execute_command(*words)), flush=True)
r.close()
"""


class Owner:
    """A process that owns an engine and listens on ``url``."""

    def __init__(self, url: str) -> None:
        self.p = subprocess.Popen(
            [sys.executable, "-c", OWNER, url],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.p.stdout is not None
        line = self.p.stdout.readline().split()
        assert line[:1] == ["ready"], line
        self.address = line[1]

    def do(self, *words: str) -> str:
        assert self.p.stdin is not None and self.p.stdout is not None
        self.p.stdin.write(" ".join(words) + "\n")
        self.p.stdin.flush()
        return self.p.stdout.readline().strip()

    def stop(self) -> None:
        if self.p.poll() is None:
            try:
                self.do("exit")
            except (BrokenPipeError, OSError):
                pass
            try:
                self.p.wait(10)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()


@pytest.fixture
def tmp() -> Iterator[str]:
    d = tempfile.mkdtemp(prefix="emberkv-attach-")
    yield d
    for f in os.listdir(d):
        os.unlink(os.path.join(d, f))
    os.rmdir(d)


@pytest.fixture
def owner(tmp: str) -> Iterator[Owner]:
    o = Owner(f"unix://{tmp}/e.sock")
    yield o
    o.stop()


def test_listen_and_attach_in_one_process(tmp: str) -> None:
    r = emberkv.Redis()
    url = f"unix://{tmp}/s.sock"
    with r.listen(url) as l:
        assert l.address == url and not l.closed
        c = emberkv.Redis.from_url(url, decode_responses=True)
        assert c.set("k", "v") is True
        assert r.get("k") == b"v"
        r.hset("h", mapping={"a": "1", "b": "2"})
        assert c.hgetall("h") == {"a": "1", "b": "2"}
        assert c.zadd("z", {"m": 1.5}) == 1
        assert c.zrange("z", 0, -1, withscores=True) == [("m", 1.5)]
        with pytest.raises(ResponseError, match="WRONGTYPE"):
            c.lpush("k", "x")
        assert list(c.scan_iter(match="*")) and c.dbsize() == 3
        pipe = c.pipeline()
        pipe.incr("n").incr("n").get("n")
        assert pipe.execute() == [1, 2, "2"]
        pipe = c.pipeline(transaction=False)
        pipe.set("a", 1).lpush("k", "x").get("a")
        out = pipe.execute(raise_on_error=False)
        assert out[0] is True and isinstance(out[1], ResponseError) and out[2] == "1"
        assert "unix://" in repr(c)
        c.close()
    assert l.closed
    l.close()  # idempotent
    with pytest.raises(ConnectionError):
        emberkv.Redis.from_url(url)
    r.close()


def test_cross_process_from_url_and_redis_py(owner: Owner) -> None:
    redis = pytest.importorskip("redis")
    path = owner.address[len("unix://"):]
    ours = emberkv.Redis.from_url(owner.address)
    theirs = redis.Redis(unix_socket_path=path)
    assert owner.do("set", "greeting", "hello") == "True"
    assert ours.get("greeting") == b"hello" == theirs.get("greeting")
    ours.rpush("history", "a", "b")
    theirs.rpush("history", "c")
    assert ours.lrange("history", 0, -1) == [b"a", b"b", b"c"] == theirs.lrange("history", 0, -1)
    assert owner.do("llen", "history") == "3"
    # SELECT through the URL: another database
    other = emberkv.Redis.from_url(owner.address + "?db=3")
    assert other.get("greeting") is None
    other.set("in3", "x")
    assert theirs.get("in3") is None and redis.Redis(unix_socket_path=path, db=3).get("in3") == b"x"
    other.close()
    ours.close()
    theirs.close()


def test_pubsub_crosses_processes(owner: Owner) -> None:
    redis = pytest.importorskip("redis")
    ours = emberkv.Redis.from_url(owner.address, decode_responses=True)
    p = ours.pubsub()
    p.subscribe("room:1")
    p.psubscribe("room:*")
    assert p.subscribed
    kinds = [p.get_message(timeout=5)["type"] for _ in range(2)]
    assert kinds == ["subscribe", "psubscribe"]
    rp = redis.Redis(unix_socket_path=owner.address[len("unix://"):]).pubsub()
    rp.subscribe("room:1")
    assert rp.get_message(timeout=5)["type"] == "subscribe"
    assert owner.do("publish", "room:1", "hi") == "3"
    m = p.get_message(timeout=5)
    assert m == {"type": "message", "pattern": None, "channel": "room:1", "data": "hi"}
    m = p.get_message(timeout=5)
    assert m == {"type": "pmessage", "pattern": "room:*", "channel": "room:1", "data": "hi"}
    assert rp.get_message(timeout=5)["data"] == b"hi"
    # a handler in a thread: pushed, not polled
    got: List[Any] = []
    ev = threading.Event()
    p2 = ours.pubsub(ignore_subscribe_messages=True)
    p2.subscribe(**{"news": lambda m: (got.append(m["data"]), ev.set())})
    t = p2.run_in_thread(sleep_time=0.01)
    deadline = time.time() + 5
    while owner.do("publish", "news", "x") == "0" and time.time() < deadline:
        time.sleep(0.01)
    assert ev.wait(5) and got[0] == "x"
    t.stop()
    t.join(5)
    p.unsubscribe()
    p.punsubscribe()
    p.close()
    p2.close()
    rp.close()
    ours.close()


def test_blocking_commands_and_watch(owner: Owner) -> None:
    c = emberkv.Redis.from_url(owner.address)
    got: List[Any] = []
    t = threading.Thread(target=lambda: got.append(c.blpop(["q"], timeout=10)))
    t.start()
    time.sleep(0.2)
    assert c.get("unrelated") is None  # the client is usable meanwhile (another socket)
    assert owner.do("rpush", "q", "job") == "1"
    t.join(10)
    assert got == [(b"q", b"job")]
    assert c.blpop(["q"], timeout=0.1) is None
    # WATCH: a write by another process aborts the transaction
    c.set("balance", 10)
    with c.pipeline() as pipe:
        pipe.watch("balance")
        assert pipe.get("balance") == b"10"
        owner.do("set", "balance", "99")
        pipe.multi()
        pipe.set("balance", 5)
        with pytest.raises(WatchError):
            pipe.execute()
    assert c.get("balance") == b"99"

    def add_one(pipe: Any) -> None:
        v = int(pipe.get("balance"))
        pipe.multi()
        pipe.set("balance", v + 1)

    c.transaction(add_one, "balance")
    assert c.get("balance") == b"100"
    c.close()


def test_close_stops_accepting(owner: Owner) -> None:
    c = emberkv.Redis.from_url(owner.address)
    assert c.ping() is True
    assert owner.do("close") == "closed True"
    with pytest.raises(ConnectionError):
        c.ping()  # the connection was closed by the listener
    with pytest.raises(ConnectionError):
        c.ping()  # reconnecting: nobody listens any more
    with pytest.raises(ConnectionError):
        emberkv.Redis.from_url(owner.address)
    assert not os.path.exists(owner.address[len("unix://"):])
    c.close()


def test_asyncio_from_url(owner: Owner) -> None:
    import emberkv.asyncio as aio

    async def main() -> None:
        c = aio.Redis.from_url(owner.address, decode_responses=True)
        assert await c.set("a", "1") is True
        assert await c.get("a") == "1"
        async with c.pipeline() as pipe:
            pipe.incr("n").incr("n")
            assert await pipe.execute() == [1, 2]
        waiter = asyncio.ensure_future(c.blpop(["aq"], timeout=10))
        await asyncio.sleep(0.2)
        assert not waiter.done()
        owner.do("rpush", "aq", "v")
        assert await asyncio.wait_for(waiter, 10) == ("aq", "v")
        p = c.pubsub()
        await p.subscribe("ch")
        assert (await p.get_message(timeout=5))["type"] == "subscribe"
        owner.do("publish", "ch", "m")
        m = await p.get_message(timeout=5)
        assert m is not None and m["data"] == "m"
        await p.aclose() if hasattr(p, "aclose") else await p.close()
        await c.aclose()

    asyncio.run(main())


def test_tcp_password_and_misuse(tmp: str) -> None:
    r = emberkv.Redis()
    l = r.listen("tcp://127.0.0.1:0", requirepass="s3cret", maxclients=20, io_threads=1)
    port = int(l.address.rsplit(":", 1)[1])
    assert r.config_get("maxclients") == {"maxclients": "20"}
    with pytest.raises(AuthenticationError):
        emberkv.Redis.from_url(f"redis://127.0.0.1:{port}").get("k")
    with pytest.raises(ConnectionError, match="AUTH"):
        emberkv.Redis.from_url(f"redis://:wrong@127.0.0.1:{port}")
    c = emberkv.Redis.from_url(f"redis://:s3cret@127.0.0.1:{port}/2")
    c.set("k", "v")
    assert r.get("k") is None and r.execute_command("SELECT", 2) and r.get("k") == b"v"
    assert emberkv.Redis.from_url(f"redis://127.0.0.1:{port}/2", password="s3cret").get("k") == b"v"
    # a port in use, bad URLs and options: clear exceptions
    with pytest.raises(ConnectionError, match="cannot listen"):
        r.listen(l.address)
    with pytest.raises(ConfigError, match="invalid listen address"):
        r.listen("bogus://x")
    with pytest.raises(ConfigError, match="unknown listener option"):
        r.listen("tcp://127.0.0.1:0", appendonly="yes")
    with pytest.raises(ConfigError):
        r.listen("tcp://127.0.0.1:0", maxclients="many")
    with pytest.raises(ValueError, match="invalid URL"):
        emberkv.Redis.from_url("redis://127.0.0.1:1/notanumber")
    with pytest.raises(ValueError):
        emberkv.Redis.from_url("http://example.com")
    with pytest.raises(ConnectionError):
        emberkv.Redis.from_url(f"unix://{tmp}/nobody.sock")
    with pytest.raises(emberkv.RedisError, match="embedded"):
        c.listen("tcp://127.0.0.1:0")
    c.close()
    # closing the engine closes its listeners
    r.shutdown_database()
    assert l.closed
    with pytest.raises(ConnectionError):
        emberkv.Redis.from_url(f"redis://:s3cret@127.0.0.1:{port}")
