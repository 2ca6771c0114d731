"""Strings and bitmaps through redis-py's methods, both reply modes."""

from __future__ import annotations

import datetime
import time

import pytest
from _util import b

import emberkv
from emberkv.exceptions import DataError, ResponseError


def test_set_get(rr: emberkv.Redis) -> None:
    assert rr.set("k", "v") is True
    assert rr.get("k") == b(rr, "v")
    assert rr.get("missing") is None
    assert rr["k"] == b(rr, "v")
    with pytest.raises(KeyError):
        rr["missing"]
    rr["k2"] = 12
    assert rr.get("k2") == b(rr, "12")
    assert "k2" in rr
    del rr["k2"]
    assert rr.exists("k2") == 0


def test_set_options(rr: emberkv.Redis) -> None:
    assert rr.set("k", "v", nx=True) is True
    assert rr.set("k", "v2", nx=True) is None
    assert rr.set("nope", "v", xx=True) is None
    assert rr.set("k", "v3", xx=True) is True
    assert rr.set("k", "v4", get=True) == b(rr, "v3")
    assert rr.set("fresh", "v", get=True) is None
    assert rr.set("k", "v", ex=100) is True
    assert 98 <= rr.ttl("k") <= 100
    assert rr.set("k", "v", px=50_000) is True
    assert 49_000 <= rr.pttl("k") <= 50_000
    assert rr.set("k", "v", ex=datetime.timedelta(seconds=30))
    assert 28 <= rr.ttl("k") <= 30
    assert rr.set("k", "w", keepttl=True)
    assert 28 <= rr.ttl("k") <= 30
    at = int(time.time()) + 60
    assert rr.set("k", "v", exat=at)
    assert 58 <= rr.ttl("k") <= 60
    assert rr.set("k", "v", pxat=datetime.datetime.fromtimestamp(at))
    assert 58 <= rr.ttl("k") <= 60
    with pytest.raises(DataError):
        rr.set("k", "v", ex=1, px=1)
    with pytest.raises(DataError):
        rr.set("k", "v", nx=True, xx=True)
    with pytest.raises(DataError):
        rr.set("k", "v", ex="soon")  # type: ignore[arg-type]
    with pytest.raises(ResponseError, match="invalid expire time"):
        rr.set("k", "v", ex=0)


def test_setnx_setex_psetex_getset(rr: emberkv.Redis) -> None:
    assert rr.setnx("a", 1) is True
    assert rr.setnx("a", 2) is False
    assert rr.setex("b", 100, "x") is True
    assert 98 <= rr.ttl("b") <= 100
    assert rr.psetex("c", datetime.timedelta(milliseconds=5000), "y") is True
    assert 4000 <= rr.pttl("c") <= 5000
    assert rr.getset("a", "new") == b(rr, "1")
    assert rr.getset("nothing", "x") is None


def test_getdel_getex(rr: emberkv.Redis) -> None:
    rr.set("a", "1")
    assert rr.getdel("a") == b(rr, "1")
    assert rr.getdel("a") is None
    rr.set("b", "2")
    assert rr.getex("b", ex=50) == b(rr, "2")
    assert 48 <= rr.ttl("b") <= 50
    assert rr.getex("b", persist=True) == b(rr, "2")
    assert rr.ttl("b") == -1
    assert rr.getex("b", px=5000) == b(rr, "2")
    assert rr.getex("nope") is None
    with pytest.raises(DataError):
        rr.getex("b", ex=1, persist=True)


def test_mget_mset_msetnx(rr: emberkv.Redis) -> None:
    assert rr.mset({"a": 1, "b": "two", b"c": 3.5}) is True
    assert rr.mget("a", "b", "c", "d") == [b(rr, "1"), b(rr, "two"), b(rr, "3.5"), None]
    assert rr.mget(["a", "b"]) == [b(rr, "1"), b(rr, "two")]
    assert rr.mget([]) == []
    assert rr.msetnx({"x": 1, "a": 2}) is False
    assert rr.msetnx({"x": 1, "y": 2}) is True


def test_counters(rr: emberkv.Redis) -> None:
    assert rr.incr("n") == 1
    assert rr.incr("n", 10) == 11
    assert rr.incrby("n", -2) == 9
    assert rr.decr("n") == 8
    assert rr.decrby("n", 5) == 3
    assert rr.incrbyfloat("f", 1.5) == 1.5
    assert rr.incrbyfloat("f", -0.25) == 1.25
    assert isinstance(rr.incrbyfloat("f", 1), float)
    rr.set("s", "abc")
    with pytest.raises(ResponseError, match="value is not an integer or out of range"):
        rr.incr("s")
    with pytest.raises(ResponseError, match="value is not a valid float"):
        rr.incrbyfloat("s")
    rr.set("big", 2**63 - 1)
    with pytest.raises(ResponseError, match="increment or decrement would overflow"):
        rr.incr("big")


def test_append_strlen_ranges(rr: emberkv.Redis) -> None:
    assert rr.append("s", "Hello") == 5
    assert rr.append("s", " World") == 11
    assert rr.strlen("s") == 11
    assert rr.getrange("s", 0, 4) == b(rr, "Hello")
    assert rr.getrange("s", -5, -1) == b(rr, "World")
    assert rr.substr("s", 6) == b(rr, "World")
    assert rr.setrange("s", 6, "Redis") == 11
    assert rr.get("s") == b(rr, "Hello Redis")
    assert rr.setrange("pad", 3, "x") == 4
    assert rr.get("pad") == b(rr, "\x00\x00\x00x")


def test_lcs(rr: emberkv.Redis) -> None:
    rr.mset({"k1": "ohmytext", "k2": "mynewtext"})
    assert rr.lcs("k1", "k2") == b(rr, "mytext")
    assert rr.lcs("k1", "k2", len=True) == 6


def test_bitmaps(rr: emberkv.Redis) -> None:
    assert rr.setbit("bm", 7, 1) == 0
    assert rr.setbit("bm", 7, True) == 1  # redis-py turns truthy values into 1
    assert rr.getbit("bm", 7) == 1
    assert rr.getbit("bm", 100) == 0
    rr.set("foo", "foobar")
    assert rr.bitcount("foo") == 26
    assert rr.bitcount("foo", 1, 1) == 6
    assert rr.bitcount("foo", 5, 30, "BIT") == 17
    with pytest.raises(DataError):
        rr.bitcount("foo", 1)
    rr.set("p", b"\xff\xf0\x00")
    assert rr.bitpos("p", 0) == 12
    assert rr.bitpos("p", 1, 2) == -1
    with pytest.raises(DataError):
        rr.bitpos("p", 2)
    rr.set("x", "abc")
    rr.set("y", "bcd")
    assert rr.bitop("AND", "dest", "x", "y") == 3
    assert rr.get("dest") == b(rr, "`b`")


def test_bitfield(rr: emberkv.Redis) -> None:
    bf = rr.bitfield("bf")
    assert bf.set("u8", 0, 255).get("u8", 0).incrby("u8", 0, 10).execute() == [0, 255, 9]
    assert rr.bitfield("bf", default_overflow="SAT").incrby("u8", 0, 300).execute() == [255]
    assert rr.bitfield_ro("bf", "u8", 0, items=[("u4", 0)]) == [255, 15]


def test_binary_safe_values(r: emberkv.Redis) -> None:
    blob = bytes(range(256)) * 3
    r.set(b"\x00key\xff", blob)
    assert r.get(b"\x00key\xff") == blob
    assert r.get(memoryview(b"\x00key\xff")) == blob
    r.set("mv", memoryview(blob)[10:20])
    assert r.get("mv") == blob[10:20]


def test_large_value_releases_gil(r: emberkv.Redis) -> None:
    big = b"x" * (4 * 1024 * 1024)
    assert r.set("big", big)
    assert r.get("big") == big
    assert r.strlen("big") == len(big)
