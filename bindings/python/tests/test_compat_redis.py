"""Compatibility: the same scripted scenarios run through redis-py's
``redis.Redis`` against a real redis-server and through ``emberkv.Redis``;
every result (values, types, exceptions and their messages) must match.

The chat scenario is what a chat backend does: presence sets, history
lists, unread counters in hashes, fan-out over pub/sub, transactions with
WATCH, activity in sorted sets.
"""

from __future__ import annotations

from typing import Any, Callable, List, Tuple

import pytest
from _util import missing_commands

import emberkv

redis = pytest.importorskip("redis")


class Recorder:
    """Runs steps, recording each result (or exception) in a comparable form."""

    def __init__(self) -> None:
        self.log: List[Tuple[str, Any]] = []

    def __call__(self, label: str, fn: Callable[[], Any], norm: Callable[[Any], Any] = lambda x: x) -> Any:
        try:
            value = fn()
        except Exception as e:  # the exception is part of the result
            self.log.append((label, ("raised", type(e).__name__, str(e))))
            return None
        self.log.append((label, norm(value)))
        return value


def scenario_strings_keys(r: Any, other: Any, step: Recorder) -> None:
    step("set", lambda: r.set("session:ana", "token-1", ex=3600))
    step("get", lambda: r.get("session:ana"))
    step("set nx", lambda: r.set("session:ana", "token-2", nx=True))
    step("set get", lambda: r.set("session:ana", "token-3", get=True))
    step("ttl", lambda: r.ttl("session:ana") > 3590)
    step("incr", lambda: r.incr("msg:id"))
    step("incrby", lambda: r.incrby("msg:id", 41))
    step("incrbyfloat", lambda: r.incrbyfloat("score", 0.1))
    step("incrbyfloat again", lambda: r.incrbyfloat("score", 0.2))
    step("incr bad", lambda: r.incr("session:ana"))
    step("mset", lambda: r.mset({"user:1:name": "Ana", "user:2:name": "Bo", "user:3:name": "Céu"}))
    step("mget", lambda: r.mget("user:1:name", "user:2:name", "user:9:name"))
    step("msetnx", lambda: r.msetnx({"user:1:name": "X", "user:4:name": "Di"}))
    step("append", lambda: r.append("log", "joined;"))
    step("append2", lambda: r.append("log", "left;"))
    step("getrange", lambda: r.getrange("log", 0, 5))
    step("strlen", lambda: r.strlen("log"))
    step("setrange", lambda: r.setrange("log", 0, "JOINED"))
    step("getdel", lambda: r.getdel("log"))
    step("getex", lambda: r.getex("user:1:name", ex=100))
    step("persist", lambda: r.persist("user:1:name"))
    step("expire nx", lambda: r.expire("user:2:name", 50, nx=True))
    step("expire gt", lambda: r.expire("user:2:name", 10, gt=True))
    step("expire lt", lambda: r.expire("user:2:name", 10, lt=True))
    step("pttl", lambda: 0 < r.pttl("user:2:name") <= 10_000)
    step("exists", lambda: r.exists("user:1:name", "user:2:name", "nope"))
    step("type", lambda: r.type("user:1:name"))
    step("rename", lambda: r.rename("user:4:name", "user:5:name"))
    step("rename missing", lambda: r.rename("nope", "x"))
    step("renamenx", lambda: r.renamenx("user:5:name", "user:1:name"))
    step("copy", lambda: r.copy("user:5:name", "user:6:name"))
    step("keys", lambda: r.keys("user:*"), sorted)
    step("scan_iter", lambda: list(r.scan_iter(match="user:*", count=2)), sorted)
    step("delete", lambda: r.delete("user:5:name", "user:6:name", "nope"))
    step("setbit", lambda: r.setbit("online:today", 7, 1))
    step("bitcount", lambda: r.bitcount("online:today"))
    step("bitpos", lambda: r.bitpos("online:today", 1))
    step("lcs", lambda: r.lcs("user:1:name", "user:2:name"))
    step("wrong arity", lambda: r.execute_command("GET"))
    step("unknown", lambda: r.execute_command("NOPE", "x"))
    step("syntax", lambda: r.execute_command("SET", "a", "b", "XX", "NX"))
    step("dbsize", lambda: r.dbsize())
    step("other sees", lambda: other.get("user:1:name"))
    with r.pipeline() as pipe:
        pipe.set("p:a", 1).incr("p:a").get("p:a").incr("user:1:name").get("nope")
        step("tx pipeline", lambda: pipe.execute(raise_on_error=False), _exc_to_text)
    pipe = r.pipeline(transaction=False)
    pipe.set("p:b", "x").incr("p:b").mget("p:a", "p:b")
    step("plain pipeline", lambda: pipe.execute(raise_on_error=False), _exc_to_text)
    pipe.set("p:c", 1).execute_command("NOPE").set("p:d", 1)
    step("pipeline raise", lambda: pipe.execute())
    p = r.pipeline()
    p.set("tx:a", 1).execute_command("NOPE").set("tx:b", 1)
    step("execabort", lambda: p.execute())
    step("after abort", lambda: r.exists("tx:a", "tx:b"))
    # WATCH: interference from another client makes EXEC fail
    w = r.pipeline()
    step("watch", lambda: w.watch("user:1:name"))
    step("immediate get", lambda: w.get("user:1:name"))
    other.set("user:1:name", "changed")
    w.multi()
    w.set("user:1:name", "mine")
    step("watch error", lambda: w.execute())
    step("after watch", lambda: r.get("user:1:name"))

    def bump(pipe: Any) -> None:
        v = int(pipe.get("msg:id"))
        pipe.multi()
        pipe.set("msg:id", v + 1)

    step("transaction()", lambda: r.transaction(bump, "msg:id"))
    step("msg:id", lambda: r.get("msg:id"))
    step("flushdb", lambda: r.flushdb())
    step("dbsize after", lambda: r.dbsize())


def _exc_to_text(results: List[Any]) -> List[Any]:
    return [("raised", type(x).__name__, str(x)) if isinstance(x, Exception) else x for x in results]


CHAT_COMMANDS = (
    "sadd", "srem", "smembers", "sismember", "scard", "sinter", "rpush", "ltrim", "lrange", "llen", "lindex",
    "lpos", "hincrby", "hgetall", "hdel", "hget", "hset", "hmget", "hexists", "zincrby", "zrevrange", "zscore",
    "zrank", "zadd", "zrangebyscore", "zcard", "publish",
)


def scenario_chat(r: Any, other: Any, step: Recorder) -> None:
    room = "room:general"
    users = ["ana", "bo", "céu", "dmitri"]
    # presence
    for u in users:
        step(f"join {u}", lambda u=u: r.sadd(f"{room}:members", u))
        step(f"online {u}", lambda u=u: r.sadd("presence:online", u))
    step("join twice", lambda: r.sadd(f"{room}:members", "ana"))
    step("members", lambda: r.smembers(f"{room}:members"))
    step("is member", lambda: r.sismember(f"{room}:members", "bo"))
    step("offline", lambda: r.srem("presence:online", "dmitri"))
    step("online in room", lambda: r.sinter(f"{room}:members", "presence:online"))
    step("scard", lambda: r.scard("presence:online"))
    # subscribers for fan-out (one per online user)
    subs = {}
    for u in ["ana", "bo", "céu"]:
        p = other.pubsub(ignore_subscribe_messages=True)
        p.subscribe(room, f"user:{u}")
        subs[u] = p

    def post(author: str, text: str) -> List[Any]:
        members = sorted(r.smembers(f"{room}:members"))
        with r.pipeline() as pipe:
            pipe.rpush(f"{room}:history", f"{author}: {text}")
            pipe.ltrim(f"{room}:history", -100, -1)
            for m in members:
                m = m.decode() if isinstance(m, bytes) else m
                if m != author:
                    pipe.hincrby(f"unread:{m}", room, 1)
            pipe.zincrby("rooms:active", 1, room)
            pipe.publish(room, f"{author}: {text}")
            return pipe.execute()

    for i in range(12):
        author = users[i % 3]
        step(f"post {i}", lambda a=author, i=i: post(a, f"message {i}"))
    step("history len", lambda: r.llen(f"{room}:history"))
    step("last 5", lambda: r.lrange(f"{room}:history", -5, -1))
    step("first", lambda: r.lindex(f"{room}:history", 0))
    step("lpos", lambda: r.lpos(f"{room}:history", "bo: message 4"))
    step("unread bo", lambda: r.hgetall("unread:bo"))
    step("unread dmitri", lambda: r.hget("unread:dmitri", room))
    step("mark read", lambda: r.hdel("unread:bo", room))
    step("unread after", lambda: r.hgetall("unread:bo"))
    step("hset profile", lambda: r.hset("user:ana", mapping={"name": "Ana", "lang": "pt", "msgs": 0}))
    step("hmget", lambda: r.hmget("user:ana", ["name", "lang", "missing"]))
    step("hexists", lambda: r.hexists("user:ana", "lang"))
    step("hincrby profile", lambda: r.hincrby("user:ana", "msgs", 4))
    step("wrongtype", lambda: r.rpush("user:ana", "x"))
    step("wrongtype 2", lambda: r.hget(f"{room}:history", "x"))
    # fan-out: every subscriber got every message, in order
    for u, p in subs.items():
        def drain(p: Any = p) -> List[Any]:
            got = []
            for _ in range(12):
                m = p.get_message(timeout=2)
                got.append((m["type"], m["channel"], m["data"]) if m else None)
            return got

        step(f"fan-out to {u}", drain)
    step("direct", lambda: r.publish("user:bo", "psst"))
    step("direct recv", lambda: (lambda m: (m["channel"], m["data"]) if m else None)(subs["bo"].get_message(timeout=2)))
    step("numsub", lambda: r.pubsub_numsub(room, "user:ana", "nobody"))
    for p in subs.values():
        p.close()
    # activity board
    step("zadd", lambda: r.zadd("rooms:active", {"room:random": 3, "room:dev": 20}))
    step("zadd gt", lambda: r.zadd("rooms:active", {"room:random": 1}, gt=True, ch=True))
    step("top rooms", lambda: r.zrevrange("rooms:active", 0, -1, withscores=True))
    step("zscore", lambda: r.zscore("rooms:active", room))
    step("zrank", lambda: r.zrank("rooms:active", "room:dev"))
    step("by score", lambda: r.zrangebyscore("rooms:active", 5, "+inf", withscores=True))
    step("zcard", lambda: r.zcard("rooms:active"))
    # optimistic "edit last message" with WATCH, interfered once
    interfered = []

    def edit(pipe: Any) -> Any:
        last = pipe.lindex(f"{room}:history", -1)
        if not interfered:
            interfered.append(1)
            other.rpush(f"{room}:history", "céu: sneaky")
        pipe.multi()
        pipe.rpush(f"{room}:history", (last.decode() if isinstance(last, bytes) else last) + " (edited)")
        return last

    step("edit tx", lambda: r.transaction(edit, f"{room}:history", value_from_callable=True))
    step("after edit", lambda: r.lrange(f"{room}:history", -3, -1))
    # a transaction that fails inside EXEC keeps the other results
    with r.pipeline() as pipe:
        pipe.hincrby("unread:ana", room, 1).rpush("user:ana", "boom").scard("presence:online")
        step("exec with error", lambda: pipe.execute(raise_on_error=False), _exc_to_text)
    step("typing", lambda: r.set("typing:ana", 1, ex=5))
    step("typing ttl", lambda: 0 < r.ttl("typing:ana") <= 5)
    step("types", lambda: [r.type(k) for k in ("presence:online", f"{room}:history", "unread:ana", "rooms:active", "typing:ana")])


SCENARIOS = {
    "strings_keys": (scenario_strings_keys, ("set", "get", "incrbyfloat", "lcs", "multi", "watch")),
    "chat": (scenario_chat, CHAT_COMMANDS),
}


@pytest.mark.parametrize("decode", [False, True], ids=["bytes", "decoded"])
@pytest.mark.parametrize("name", list(SCENARIOS))
def test_same_results_as_redis_py_against_redis_server(redis_server: int, name: str, decode: bool) -> None:
    fn, needs = SCENARIOS[name]
    ours = emberkv.Redis(decode_responses=decode)
    missing = missing_commands(ours, *needs)
    if missing:
        pytest.skip(f"the engine does not implement {', '.join(m.upper() for m in missing)} yet")

    real = redis.Redis(host="127.0.0.1", port=redis_server, decode_responses=decode)
    real.flushall()
    real_other = redis.Redis(host="127.0.0.1", port=redis_server, decode_responses=decode)
    expected = Recorder()
    fn(real, real_other, expected)
    real.flushall()
    real.close()
    real_other.close()

    got = Recorder()
    fn(ours, ours.client(), got)

    assert [label for label, _ in got.log] == [label for label, _ in expected.log]
    for (label, e), (_, g) in zip(expected.log, got.log):
        assert g == e, f"step {label!r}: redis-server gave {e!r}, emberkv gave {g!r}"
