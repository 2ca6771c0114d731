"""Lists, hashes, sets and sorted sets through redis-py's methods (skipped,
naming the missing commands, until the engine serves the family)."""

from __future__ import annotations

import pytest
from _util import b, require

import emberkv
from emberkv.exceptions import DataError, ResponseError

WRONGTYPE = "WRONGTYPE Operation against a key holding the wrong kind of value"


# ---- lists ----------------------------------------------------------------------


def test_list_push_pop_range(rr: emberkv.Redis) -> None:
    require(rr, "lpush", "rpush", "lrange", "lpop", "rpop", "llen", "lindex", "lset", "linsert", "lrem", "ltrim", "lpos")
    s = lambda x: b(rr, x)  # noqa: E731
    assert rr.rpush("l", "a", "b", "c") == 3
    assert rr.lpush("l", "z") == 4
    assert rr.lrange("l", 0, -1) == [s("z"), s("a"), s("b"), s("c")]
    assert rr.llen("l") == 4
    assert rr.lindex("l", 1) == s("a")
    assert rr.lindex("l", 99) is None
    assert rr.lset("l", 0, "y") is True
    assert rr.linsert("l", "BEFORE", "b", "ab") == 5
    assert rr.linsert("l", "AFTER", "nope", "x") == -1
    assert rr.lpos("l", "b") == 3
    assert rr.lpos("l", "b", count=0) == [3]
    assert rr.lrem("l", 0, "ab") == 1
    assert rr.ltrim("l", 0, 2) is True
    assert rr.lrange("l", 0, -1) == [s("y"), s("a"), s("b")]
    assert rr.lpop("l") == s("y")
    assert rr.rpop("l", 5) == [s("b"), s("a")]
    assert rr.lpop("l") is None
    assert rr.lpop("l", 2) is None
    assert rr.exists("l") == 0
    assert rr.lpushx("l", "x") == 0
    assert rr.rpushx("l", "x") == 0
    with pytest.raises(ResponseError, match="no such key"):
        rr.lset("l", 0, "v")


def test_list_move_and_types(rr: emberkv.Redis) -> None:
    require(rr, "rpush", "lmove", "rpoplpush", "lmpop")
    s = lambda x: b(rr, x)  # noqa: E731
    rr.rpush("src", 1, 2, 3)
    assert rr.lmove("src", "dst", "RIGHT", "LEFT") == s("3")
    assert rr.rpoplpush("src", "dst") == s("2")
    assert rr.lrange("dst", 0, -1) == [s("2"), s("3")]
    assert rr.lmpop(2, "nope", "dst", direction="LEFT", count=5) == [s("dst"), [s("2"), s("3")]]
    rr.set("str", "v")
    with pytest.raises(ResponseError) as e:
        rr.lpush("str", "x")
    assert str(e.value) == WRONGTYPE


def test_blocking_pops(r: emberkv.Redis) -> None:
    require(r, "blpop", "brpop", "blmove", "rpush")
    r.rpush("q", "a")
    assert r.blpop(["empty", "q"], timeout=1) == (b"q", b"a")
    assert r.brpop("q", timeout=0.05) is None
    r.rpush("q", "b")
    assert r.blmove("q", "q2", 1) == b"b"


# ---- hashes -----------------------------------------------------------------------


def test_hashes(rr: emberkv.Redis) -> None:
    require(rr, "hset", "hget", "hgetall", "hdel", "hexists", "hincrby", "hincrbyfloat", "hkeys", "hvals", "hlen", "hmget", "hsetnx", "hstrlen")
    s = lambda x: b(rr, x)  # noqa: E731
    assert rr.hset("h", "a", 1) == 1
    assert rr.hset("h", mapping={"b": 2, "c": "three"}) == 2
    assert rr.hset("h", items=["d", 4, "e", 5]) == 2
    assert rr.hget("h", "a") == s("1")
    assert rr.hget("h", "zz") is None
    assert rr.hgetall("h") == {s("a"): s("1"), s("b"): s("2"), s("c"): s("three"), s("d"): s("4"), s("e"): s("5")}
    assert rr.hgetall("nope") == {}
    assert rr.hmget("h", ["a", "zz"], "b") == [s("1"), None, s("2")]
    assert rr.hexists("h", "a") is True
    assert rr.hexists("h", "zz") is False
    assert rr.hincrby("h", "a", 10) == 11
    assert rr.hincrbyfloat("h", "f", 0.5) == 0.5
    assert rr.hsetnx("h", "a", 0) == 0
    assert rr.hstrlen("h", "c") == 5
    assert sorted(rr.hkeys("h")) == sorted([s(k) for k in "abcdef"])
    assert len(rr.hvals("h")) == rr.hlen("h") == 6
    assert rr.hdel("h", "a", "zz") == 1
    with pytest.raises(DataError):
        rr.hset("h")
    with pytest.raises(ResponseError, match="hash value is not an integer"):
        rr.hincrby("h", "c")


def test_hscan_and_hrandfield(rr: emberkv.Redis) -> None:
    require(rr, "hset", "hscan", "hrandfield")
    s = lambda x: b(rr, x)  # noqa: E731
    fields = {f"f{i}": i for i in range(300)}
    rr.hset("h", mapping=fields)
    cursor, page = rr.hscan("h", count=20)
    assert isinstance(page, dict)
    assert dict(rr.hscan_iter("h", match="f1*")) == {s(k): s(str(v)) for k, v in fields.items() if k.startswith("f1")}
    # (HSCAN ... NOVALUES, hscan_iter(no_values=True), is Redis 7.4; the engine matches 7.0)
    assert rr.hrandfield("h") in {s(k) for k in fields}
    assert len(rr.hrandfield("h", 5)) == 5
    assert len(rr.hrandfield("h", 3, withvalues=True)) == 6


# ---- sets --------------------------------------------------------------------------


def test_sets(rr: emberkv.Redis) -> None:
    require(rr, "sadd", "smembers", "srem", "sismember", "smismember", "scard", "sinter", "sunion", "sdiff", "sinterstore", "sunionstore", "sdiffstore", "smove", "spop", "srandmember", "sintercard")
    s = lambda x: b(rr, x)  # noqa: E731
    assert rr.sadd("a", 1, 2, 3) == 3
    assert rr.sadd("b", 2, 3, 4) == 3
    assert rr.smembers("a") == {s("1"), s("2"), s("3")}
    assert rr.smembers("nope") == set()
    assert rr.sismember("a", 1) == 1
    assert rr.smismember("a", [1, 9]) == [1, 0]
    assert rr.scard("a") == 3
    assert rr.sinter("a", "b") == {s("2"), s("3")}
    assert rr.sunion(["a", "b"]) == {s(x) for x in "1234"}
    assert rr.sdiff("a", "b") == {s("1")}
    assert rr.sinterstore("i", "a", "b") == 2
    assert rr.sunionstore("u", "a", "b") == 4
    assert rr.sdiffstore("d", ["a", "b"]) == 1
    assert rr.sintercard(2, ["a", "b"]) == 2
    assert rr.smove("a", "b", 1) is True
    assert rr.smove("a", "b", 99) is False
    assert rr.srem("a", 2, 99) == 1
    assert rr.spop("a") == s("3")
    assert rr.spop("a") is None
    assert rr.srandmember("b") in {s(x) for x in "1234"}
    assert len(rr.srandmember("b", 2)) == 2
    assert len(rr.spop("b", 2)) == 2


def test_sscan(rr: emberkv.Redis) -> None:
    require(rr, "sadd", "sscan")
    members = {f"m{i}" for i in range(200)}
    rr.sadd("s", *members)
    assert set(rr.sscan_iter("s", count=15)) == {b(rr, m) for m in members}
    assert set(rr.sscan_iter("s", match="m1?")) == {b(rr, f"m1{i}") for i in range(10)}


# ---- sorted sets ----------------------------------------------------------------------


def test_sorted_sets(rr: emberkv.Redis) -> None:
    require(rr, "zadd", "zrange", "zscore", "zincrby", "zrank", "zrevrank", "zcard", "zcount", "zrem", "zrangebyscore", "zrevrangebyscore", "zrevrange", "zpopmin", "zpopmax", "zmscore", "zremrangebyscore", "zremrangebyrank")
    s = lambda x: b(rr, x)  # noqa: E731
    assert rr.zadd("z", {"a": 1, "b": 2, "c": 3.5}) == 3
    assert rr.zadd("z", {"a": 5}, xx=True, ch=True) == 1
    assert rr.zadd("z", {"d": 1}, nx=True) == 1
    assert rr.zadd("z", {"d": 10}, incr=True) == 11.0
    assert rr.zadd("z", {"d": 1}, gt=True) == 0
    assert rr.zrange("z", 0, -1) == [s("b"), s("c"), s("a"), s("d")]
    assert rr.zrange("z", 0, 1, withscores=True) == [(s("b"), 2.0), (s("c"), 3.5)]
    assert rr.zrange("z", 0, 0, desc=True, withscores=True, score_cast_func=int) == [(s("d"), 11)]
    assert rr.zrange("z", 2, 4, byscore=True) == [s("b"), s("c")]
    assert rr.zrange("z", "(2", "+inf", byscore=True, offset=0, num=1) == [s("c")]
    assert rr.zrevrange("z", 0, 1) == [s("d"), s("a")]
    assert rr.zrangebyscore("z", 2, 5, withscores=True) == [(s("b"), 2.0), (s("c"), 3.5), (s("a"), 5.0)]
    assert rr.zrevrangebyscore("z", "+inf", 5, start=0, num=1) == [s("d")]
    assert rr.zscore("z", "c") == 3.5
    assert rr.zscore("z", "nope") is None
    assert rr.zmscore("z", ["a", "nope"]) == [5.0, None]
    assert rr.zincrby("z", 0.5, "c") == 4.0
    assert rr.zrank("z", "b") == 0
    assert rr.zrevrank("z", "b") == 3
    assert rr.zrank("z", "nope") is None
    assert rr.zcard("z") == 4
    assert rr.zcount("z", 2, "(5") == 2
    assert rr.zpopmin("z") == [(s("b"), 2.0)]
    assert rr.zpopmax("z", 2) == [(s("d"), 11.0), (s("a"), 5.0)]
    assert rr.zrem("z", "c", "nope") == 1
    rr.zadd("z", {"x": 1, "y": 2, "q": 3})
    assert rr.zremrangebyscore("z", 1, 1) == 1
    assert rr.zremrangebyrank("z", 0, 0) == 1
    with pytest.raises(DataError):
        rr.zadd("z", {})
    with pytest.raises(DataError):
        rr.zadd("z", {"a": 1}, nx=True, xx=True)
    with pytest.raises(ResponseError, match="not a valid float"):
        rr.zadd("z", {"a": "nan-ish"})


def test_sorted_set_lex_and_store(rr: emberkv.Redis) -> None:
    require(rr, "zadd", "zrangebylex", "zrevrangebylex", "zlexcount", "zremrangebylex", "zunionstore", "zinterstore", "zrangestore", "zunion", "zinter", "zdiff")
    s = lambda x: b(rr, x)  # noqa: E731
    rr.zadd("lex", {m: 0 for m in "abcdef"})
    assert rr.zrangebylex("lex", "[b", "(e") == [s("b"), s("c"), s("d")]
    assert rr.zrevrangebylex("lex", "+", "-", start=0, num=2) == [s("f"), s("e")]
    assert rr.zlexcount("lex", "-", "+") == 6
    assert rr.zremrangebylex("lex", "[e", "+") == 2
    rr.zadd("z1", {"a": 1, "b": 2})
    rr.zadd("z2", {"b": 3, "c": 4})
    assert rr.zunionstore("u", ["z1", "z2"]) == 3
    assert rr.zscore("u", "b") == 5.0
    assert rr.zinterstore("i", {"z1": 2, "z2": 1}, aggregate="MAX") == 1
    assert rr.zscore("i", "b") == 4.0
    assert rr.zunion(["z1", "z2"], withscores=True) == [(s("a"), 1.0), (s("c"), 4.0), (s("b"), 5.0)]
    assert rr.zinter(["z1", "z2"]) == [s("b")]
    assert rr.zdiff(["z1", "z2"]) == [s("a")]
    assert rr.zrangestore("st", "u", 0, 1) == 2
    with pytest.raises(DataError):
        rr.zunionstore("u", ["z1"], aggregate="AVG")


def test_zscan(rr: emberkv.Redis) -> None:
    require(rr, "zadd", "zscan")
    rr.zadd("z", {f"m{i}": i for i in range(150)})
    got = dict(rr.zscan_iter("z", count=10))
    assert got == {b(rr, f"m{i}"): float(i) for i in range(150)}
    assert dict(rr.zscan_iter("z", match="m1?", score_cast_func=int)) == {b(rr, f"m1{i}"): 10 + i for i in range(10)}
