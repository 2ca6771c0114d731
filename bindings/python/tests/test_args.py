"""Argument encoding (redis-py's Encoder rules), bad arguments, error mapping."""

from __future__ import annotations

import pytest

import emberkv
from emberkv import exceptions as ex


class Thing:
    pass


def test_encoding_of_python_values(r: emberkv.Redis) -> None:
    r.set("int", 42)
    r.set("neg", -7)
    r.set("bigint", 2**80)
    r.set("float", 0.1)
    r.set("sci", 1e100)
    r.set("str", "héllo")
    r.set("bytes", b"\xff\x00")
    r.set("mv", memoryview(b"view"))
    assert r.mget("int", "neg", "bigint", "float", "sci", "str", "bytes", "mv") == [
        b"42", b"-7", str(2**80).encode(), b"0.1", b"1e+100", "héllo".encode(), b"\xff\x00", b"view",
    ]
    # keys are encoded the same way
    r.set(17, "x")
    assert r.get("17") == b"x"


@pytest.mark.parametrize("bad", [True, False, None, Thing(), [1], {"a": 1}, bytearray(b"x")])
def test_refused_types(r: emberkv.Redis, bad: object) -> None:
    with pytest.raises(ex.DataError, match=f"Invalid input of type: '{type(bad).__name__}'"):
        r.set("k", bad)  # type: ignore[arg-type]
    with pytest.raises(ex.DataError):
        r.get(bad)  # type: ignore[arg-type]
    assert r.exists("k") == 0


def test_other_encodings() -> None:
    r = emberkv.Redis(encoding="latin-1", decode_responses=True)
    r.set("k", "café")
    raw = emberkv.Redis(_database=r._database)
    assert raw.get("k") == "café".encode("latin-1")
    assert r.get("k") == "café"
    with pytest.raises(UnicodeEncodeError):
        r.set("k", "€")
    strict = emberkv.Redis(_database=r._database, decode_responses=True)
    with pytest.raises(UnicodeDecodeError):
        strict.get("k")
    lenient = emberkv.Redis(_database=r._database, decode_responses=True, encoding_errors="replace")
    assert lenient.get("k") == "caf\ufffd"


def test_surrogates_refused_like_redis_py(r: emberkv.Redis) -> None:
    with pytest.raises(UnicodeEncodeError):
        r.set("k", "\udcff")


def test_error_mapping(r: emberkv.Redis) -> None:
    r.set("s", "v")
    with pytest.raises(ex.ResponseError) as e:
        r.setrange("s", -1, "x")
    assert type(e.value) is ex.ResponseError and str(e.value) == "offset is out of range"
    # ERR is stripped from the message, other codes are kept (redis-py's parse_error)
    with pytest.raises(ex.ResponseError) as e:
        r.execute_command("GET")
    assert str(e.value) == "wrong number of arguments for 'get' command"
    assert e.value.status_code == "ERR"
    with pytest.raises(ex.ResponseError, match="^unknown command 'NOPE'"):
        r.execute_command("NOPE", "a")
    # EXEC without MULTI
    with pytest.raises(ex.ResponseError, match="EXEC without MULTI"):
        r.execute_command("EXEC")
    with pytest.raises(ex.ResponseError, match="^syntax error$"):
        r.execute_command("SET", "k", "v", "BOGUS")


def test_execabort_maps_to_execaborterror(r: emberkv.Redis) -> None:
    s = r._conn.session()
    assert s.execute("MULTI") == b"OK"
    with pytest.raises(ex.ResponseError):
        s.execute("NOPE")
    with pytest.raises(ex.ExecAbortError, match="^Transaction discarded because of previous errors"):
        s.execute("EXEC")
    assert issubclass(ex.ExecAbortError, ex.ResponseError)


def test_exception_hierarchy_matches_redis_py() -> None:
    import redis.exceptions as rex

    for name in ["RedisError", "ConnectionError", "TimeoutError", "AuthenticationError", "BusyLoadingError",
                 "InvalidResponse", "ResponseError", "DataError", "PubSubError", "WatchError", "NoScriptError",
                 "OutOfMemoryError", "ExecAbortError", "ReadOnlyError", "NoPermissionError", "ModuleError",
                 "LockError", "LockNotOwnedError", "AuthenticationWrongNumberOfArgsError", "ClusterDownError",
                 "AskError", "TryAgainError", "ClusterCrossSlotError", "MovedError", "MasterDownError"]:
        ours, theirs = getattr(ex, name), getattr(rex, name)
        our_bases = {b.__name__ for b in ours.__mro__}
        their_bases = {b.__name__ for b in theirs.__mro__} - {"object"}
        assert their_bases <= our_bases | {"object"}, name


def test_empty_and_odd_commands(r: emberkv.Redis) -> None:
    with pytest.raises(ex.DataError):
        r.execute_command()
    with pytest.raises(ex.DataError):
        r.execute_command("   ")
    # split like redis-py; the callback is looked up by the name as given (none here)
    assert r.execute_command("CONFIG   GET", "hz") == [b"hz", b"10"]


def test_many_arguments(r: emberkv.Redis) -> None:
    keys = {f"k{i}": i for i in range(5000)}
    assert r.mset(keys) is True
    assert r.mget(list(keys)) == [str(i).encode() for i in range(5000)]
    assert r.delete(*keys) == 5000
