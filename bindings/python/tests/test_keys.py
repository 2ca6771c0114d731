"""Keyspace commands: DEL, EXISTS, TYPE, RENAME, COPY, MOVE, KEYS, SCAN, expiry."""

from __future__ import annotations

import datetime
import time

import pytest
from _util import b, require

import emberkv
from emberkv.exceptions import ResponseError


def test_delete_exists_touch_unlink(rr: emberkv.Redis) -> None:
    rr.mset({"a": 1, "b": 2, "c": 3})
    assert rr.exists("a", "b", "nope", "a") == 3
    assert rr.delete("a", "nope") == 1
    assert rr.unlink("b") == 1
    assert rr.touch("c", "nope") == 1
    assert rr.exists("a") == 0


def test_type_rename_copy_move(rr: emberkv.Redis) -> None:
    rr.set("a", "v")
    assert rr.type("a") == b(rr, "string")
    assert rr.type("nope") == b(rr, "none")
    assert rr.rename("a", "b") is True
    with pytest.raises(ResponseError, match="no such key"):
        rr.rename("a", "c")
    rr.set("c", "other")
    assert rr.renamenx("b", "c") is False
    assert rr.renamenx("b", "d") is True
    assert rr.copy("d", "e") is True
    assert rr.copy("d", "e") is False
    assert rr.copy("d", "e", replace=True) is True
    assert rr.copy("d", "e", destination_db="3") is True
    assert rr.move("e", 4) is True
    assert rr.move("e", 4) is False
    other = emberkv.Redis(_database=rr._database, db=4)
    assert other.get("e") == b(other, "v")


def test_keys_scan(rr: emberkv.Redis) -> None:
    names = {f"user:{i}" for i in range(120)} | {"other"}
    rr.mset({n: 1 for n in names})
    assert set(rr.keys("user:1?")) == {b(rr, f"user:{i}") for i in range(10, 20)}
    assert len(rr.keys()) == 121
    cursor, page = rr.scan(0, match="user:*", count=10)
    assert isinstance(cursor, int) and isinstance(page, list)
    assert set(rr.scan_iter(match="user:*", count=7)) == {b(rr, n) for n in names if n.startswith("user:")}
    assert set(rr.scan_iter(_type="string")) == {b(rr, n) for n in names}
    assert set(rr.scan_iter(_type="list")) == set()
    assert rr.randomkey() in {b(rr, n) for n in names}
    rr.flushdb()
    assert rr.randomkey() is None


def test_expire_family(rr: emberkv.Redis) -> None:
    rr.set("k", "v")
    assert rr.ttl("k") == -1
    assert rr.ttl("nope") == -2
    assert rr.expire("k", 100) is True
    assert rr.expire("nope", 100) is False
    assert rr.expire("k", 50, nx=True) is False
    assert rr.expire("k", 50, xx=True) is True
    assert rr.expire("k", 10, gt=True) is False
    assert rr.expire("k", 200, gt=True) is True
    assert rr.expire("k", 300, lt=True) is False
    assert rr.expire("k", datetime.timedelta(seconds=70)) is True
    assert 68 <= rr.ttl("k") <= 70
    assert rr.pexpire("k", 90_000) is True
    assert 88_000 <= rr.pttl("k") <= 90_000
    when = int(time.time()) + 500
    assert rr.expireat("k", when) is True
    assert rr.expiretime("k") == when
    assert rr.pexpireat("k", datetime.datetime.fromtimestamp(when + 1)) is True
    assert rr.pexpiretime("k") == (when + 1) * 1000
    assert rr.persist("k") is True
    assert rr.persist("k") is False
    assert rr.expiretime("k") == -1
    rr.set("gone", "v", px=1)
    time.sleep(0.01)
    assert rr.get("gone") is None
    with pytest.raises(ResponseError):
        rr.expire("k", 10, nx=True, xx=True)


def test_databases(r: emberkv.Redis) -> None:
    r.set("k", "db0")
    r1 = emberkv.Redis(_database=r._database, db=1)
    assert r1.get("k") is None
    r1.set("k", "db1")
    assert r.dbsize() == 1 and r1.dbsize() == 1
    assert r.swapdb(0, 1) is True
    assert r.get("k") == b"db1"
    assert r.flushall() is True
    assert r.dbsize() == 0 and r1.dbsize() == 0
    with pytest.raises(ResponseError, match="DB index is out of range"):
        emberkv.Redis(_database=r._database, db=99)


def test_client_shares_engine(r: emberkv.Redis) -> None:
    other = r.client()
    r.set("shared", 1)
    assert other.get("shared") == b"1"
    assert other.client_id() != r.client_id()


def test_object_encoding(r: emberkv.Redis) -> None:
    r.set("i", 123)
    r.set("s", "short")
    r.set("l", "x" * 100)
    assert r.object("encoding", "i") == b"int"
    assert r.object("encoding", "s") == b"embstr"
    assert r.object("encoding", "l") == b"raw"
    assert r.object("encoding", "nope") is None


def test_sort(r: emberkv.Redis) -> None:
    require(r, "sort", "rpush")
    r.rpush("l", 3, 1, 2)
    assert r.sort("l") == [b"1", b"2", b"3"]
    assert r.sort("l", desc=True, start=0, num=2) == [b"3", b"2"]
    r.mset({"w_1": 30, "w_2": 20, "w_3": 10, "o_1": "a", "o_2": "b", "o_3": "c"})
    assert r.sort("l", by="w_*", get=["#", "o_*"], groups=True) == [(b"3", b"c"), (b"2", b"b"), (b"1", b"a")]
