"""Pub/sub with redis-py's PubSub API: message shapes, handlers, listen(),
run_in_thread(), waits that are pushed (not polled) and release the GIL."""

from __future__ import annotations

import threading
import time
from typing import Any, Dict, List

import pytest
from _util import b

import emberkv
from emberkv.exceptions import PubSubError, SubscriberOverflowError


def test_subscribe_publish_shapes(rr: emberkv.Redis) -> None:
    s = lambda x: b(rr, x)  # noqa: E731
    p = rr.pubsub()
    assert not p.subscribed
    assert p.get_message() is None
    p.subscribe("news", "sport")
    assert p.subscribed
    assert p.get_message() == {"type": "subscribe", "pattern": None, "channel": s("news"), "data": 1}
    assert p.get_message() == {"type": "subscribe", "pattern": None, "channel": s("sport"), "data": 2}
    assert rr.publish("news", "hello") == 1
    assert rr.publish("nobody", "x") == 0
    assert p.get_message() == {"type": "message", "pattern": None, "channel": s("news"), "data": s("hello")}
    assert p.get_message() is None
    p.psubscribe("n*")
    assert p.get_message() == {"type": "psubscribe", "pattern": None, "channel": s("n*"), "data": 3}
    assert rr.publish("news", b"\x01bin") == 2
    m1, m2 = p.get_message(), p.get_message()
    assert m1 is not None and m1["type"] == "message"
    assert m2 == {"type": "pmessage", "pattern": s("n*"), "channel": s("news"), "data": b"\x01bin" if isinstance(m2["data"], bytes) else "\x01bin"}  # type: ignore[index]
    assert rr.pubsub_numsub("news", "zz") == [(s("news"), 1), (s("zz"), 0)]
    assert rr.pubsub_numpat() == 1
    assert set(rr.pubsub_channels()) == {s("news"), s("sport")}
    p.unsubscribe("news")
    assert p.get_message() == {"type": "unsubscribe", "pattern": None, "channel": s("news"), "data": 2}
    p.punsubscribe()
    assert p.get_message() == {"type": "punsubscribe", "pattern": None, "channel": s("n*"), "data": 1}
    p.unsubscribe()
    assert p.get_message() == {"type": "unsubscribe", "pattern": None, "channel": s("sport"), "data": 0}
    assert not p.subscribed
    p.close()


def test_ignore_subscribe_messages_and_handlers(r: emberkv.Redis) -> None:
    got: List[Dict[str, Any]] = []
    p = r.pubsub(ignore_subscribe_messages=True)
    p.subscribe("plain", handled=got.append)
    p.psubscribe(**{"pat.*": got.append})
    r.publish("plain", "1")
    r.publish("handled", "2")
    r.publish("pat.x", "3")
    # 3 subscribe confirmations (ignored) + 3 messages, 2 of them handled: None
    msgs = [p.get_message(timeout=1) for _ in range(6)]
    assert [m for m in msgs if m is not None] == [{"type": "message", "pattern": None, "channel": b"plain", "data": b"1"}]
    assert [m["data"] for m in got] == [b"2", b"3"]
    assert got[1]["pattern"] == b"pat.*"


def test_get_message_waits_for_a_push(r: emberkv.Redis) -> None:
    p = r.pubsub(ignore_subscribe_messages=True)
    p.subscribe("ch")
    assert p.get_message() is None  # the subscribe confirmation, ignored

    def later() -> None:
        time.sleep(0.1)
        r.publish("ch", "late")

    t = threading.Thread(target=later)
    start = time.monotonic()
    t.start()
    m = p.get_message(timeout=5)
    took = time.monotonic() - start
    t.join()
    assert m is not None and m["data"] == b"late"
    assert took < 2.0  # woken by the message, not by the timeout
    start = time.monotonic()
    assert p.get_message(timeout=0.2) is None
    assert 0.15 < time.monotonic() - start < 2.0


def test_waiting_releases_the_gil(r: emberkv.Redis) -> None:
    p = r.pubsub()
    p.subscribe("quiet")
    p.get_message()
    counter = [0]
    stop = threading.Event()

    def spin() -> None:
        while not stop.is_set():
            counter[0] += 1

    t = threading.Thread(target=spin)
    t.start()
    try:
        p.get_message(timeout=0.3)
    finally:
        stop.set()
        t.join()
    assert counter[0] > 10_000


def test_listen_from_another_thread(rd: emberkv.Redis) -> None:
    p = rd.pubsub(ignore_subscribe_messages=True)
    p.subscribe("chat")
    got: List[Any] = []

    def consume() -> None:
        for m in p.listen():
            got.append(m["data"])
            if m["data"] == "bye":
                p.unsubscribe()

    t = threading.Thread(target=consume)
    t.start()
    for i in range(100):
        rd.publish("chat", f"msg{i}")
    rd.publish("chat", "bye")
    t.join(10)
    assert not t.is_alive()
    assert got == [f"msg{i}" for i in range(100)] + ["bye"]


def test_run_in_thread(r: emberkv.Redis) -> None:
    got: List[bytes] = []
    done = threading.Event()

    def handler(m: Dict[str, Any]) -> None:
        got.append(m["data"])
        if len(got) == 50:
            done.set()

    p = r.pubsub()
    p.subscribe(room=handler)
    worker = p.run_in_thread(daemon=True)
    for i in range(50):
        r.publish("room", i)
    assert done.wait(5)
    start = time.monotonic()
    worker.stop()
    worker.join(5)
    assert not worker.is_alive()
    assert time.monotonic() - start < 1.0  # stop() wakes the wait at once
    assert got == [str(i).encode() for i in range(50)]
    with pytest.raises(PubSubError, match="has no handler"):
        q = r.pubsub()
        q.subscribe("nohandler")
        q.run_in_thread()


def test_run_in_thread_exception_handler(r: emberkv.Redis) -> None:
    errors: List[BaseException] = []

    def bad(m: Dict[str, Any]) -> None:
        raise ValueError("boom")

    p = r.pubsub()
    p.subscribe(ch=bad)
    worker = p.run_in_thread(exception_handler=lambda e, ps, th: errors.append(e))
    r.publish("ch", "x")
    deadline = time.monotonic() + 5
    while not errors and time.monotonic() < deadline:
        time.sleep(0.01)
    worker.stop()
    worker.join(5)
    assert isinstance(errors[0], ValueError)


def test_many_subscribers_fan_out(r: emberkv.Redis) -> None:
    subs = [r.pubsub(ignore_subscribe_messages=True) for _ in range(20)]
    for p in subs:
        p.subscribe("room:1")
        p.get_message()
    assert r.publish("room:1", "hi all") == 20
    for p in subs:
        m = p.get_message(timeout=1)
        assert m is not None and m["data"] == b"hi all"


def test_keyspace_notifications(r: emberkv.Redis) -> None:
    r.config_set("notify-keyspace-events", "KEA")
    p = r.pubsub(ignore_subscribe_messages=True)
    p.psubscribe("__keyspace@0__:*")
    p.get_message()
    r.set("watched", 1)
    m = p.get_message(timeout=1)
    assert m == {"type": "pmessage", "pattern": b"__keyspace@0__:*", "channel": b"__keyspace@0__:watched", "data": b"set"}


def test_slow_subscriber_overflow(r: emberkv.Redis) -> None:
    p = r.pubsub(ignore_subscribe_messages=True)
    p.subscribe("flood")
    p.get_message()
    chunk = b"x" * (1024 * 1024)
    for _ in range(40):  # past the default 32 MiB hard limit
        r.publish("flood", chunk)
    with pytest.raises(SubscriberOverflowError, match="client-output-buffer-limit"):
        for _ in range(100):
            p.get_message(timeout=0.1)


def test_publish_from_threads_delivers_everything(r: emberkv.Redis) -> None:
    p = r.pubsub(ignore_subscribe_messages=True)
    p.subscribe("t")
    p.get_message()
    n, per = 4, 500

    def pub(i: int) -> None:
        c = r.client()
        for j in range(per):
            c.publish("t", f"{i}:{j}")

    ts = [threading.Thread(target=pub, args=(i,)) for i in range(n)]
    for t in ts:
        t.start()
    got = []
    while len(got) < n * per:
        m = p.get_message(timeout=5)
        assert m is not None
        got.append(m["data"])
    for t in ts:
        t.join()
    for i in range(n):  # each publisher's messages arrive in order
        mine = [int(x.split(b":")[1]) for x in got if x.startswith(f"{i}:".encode())]
        assert mine == list(range(per))


def test_pubsub_close_and_reuse(r: emberkv.Redis) -> None:
    p = r.pubsub()
    p.subscribe("a")
    p.close()
    assert not p.subscribed and r.pubsub_numsub("a") == [(b"a", 0)]
    p.subscribe("a")
    assert r.pubsub_numsub("a") == [(b"a", 1)]
    with r.pubsub() as q:
        q.subscribe("b")
    assert r.pubsub_numsub("b") == [(b"b", 0)]
