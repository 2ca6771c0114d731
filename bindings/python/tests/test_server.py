"""Server and connection commands, execute_command, callbacks, config, URLs."""

from __future__ import annotations

import os

import pytest
from _util import b

import emberkv
from emberkv.exceptions import ConfigError, ResponseError


def test_ping_echo_time(rr: emberkv.Redis) -> None:
    assert rr.ping() is True
    assert rr.echo("hi") == b(rr, "hi")
    secs, usecs = rr.time()
    assert isinstance(secs, int) and 0 <= usecs < 1_000_000


def test_info_config(rr: emberkv.Redis) -> None:
    info = rr.info()
    assert info["redis_version"] == emberkv.REDIS_VERSION
    assert isinstance(info["uptime_in_seconds"], int)
    assert "redis_version" in rr.info("server")
    assert rr.config_get("hz") == {"hz": "10"}
    assert rr.config_set("hz", 50) is True
    assert rr.config_get("hz") == {"hz": "50"}
    assert "hash-max-listpack-entries" in rr.config_get("hash-*")
    with pytest.raises(ResponseError):
        rr.config_set("no-such-thing", 1)
    assert rr.config_resetstat() is True


def test_client_commands(rr: emberkv.Redis) -> None:
    assert isinstance(rr.client_id(), int)
    assert rr.client_getname() is None
    assert rr.client_setname("web-1") is True
    # CLIENT GETNAME is str_if_bytes'd by redis-py in both modes
    assert rr.client_getname() == "web-1"
    info = rr.client_info()
    assert info["name"] == "web-1" and isinstance(info["id"], int)
    listed = rr.client_list()
    assert any(c["name"] == "web-1" for c in listed)
    assert rr.client_setinfo("lib-name", "emberkv-py") is True


def test_command_introspection(r: emberkv.Redis) -> None:
    assert r.command_count() > 50
    cmds = r.command()
    assert cmds["get"]["arity"] == 2 and "readonly" in cmds["get"]["flags"]
    assert b"get" in r.command_list()
    assert r.command_getkeys("SET", "a", "b") == ["a"]


def test_execute_command_generic(r: emberkv.Redis) -> None:
    # response callbacks apply by command name, as in redis-py
    assert r.execute_command("SET", "a", "1") is True
    assert r.execute_command("set", "a", "2") is True
    assert r.execute_command(b"SET", "a", "3") is True
    assert r.execute_command("GET", "a") == b"3"
    assert r.execute_command("CONFIG GET", "hz") == {"hz": "10"}
    assert r.execute_command("CONFIG", "GET", "hz") == [b"hz", b"10"]
    assert r.execute_command("INCRBYFLOAT", "f", "1.5") == 1.5
    assert r.execute_command("PING") is True


def test_set_response_callback(r: emberkv.Redis) -> None:
    r.set("a", "1")
    r.set_response_callback("GET", lambda v, **kw: int(v) if v is not None else None)
    assert r.get("a") == 1
    r.set_response_callback("SET", lambda v, **kw: "custom")
    assert r.set("a", 2) == "custom"


def test_unknown_config_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match="unknown config parameter 'no-such-directive'"):
        emberkv.Redis(no_such_directive="1")
    with pytest.raises(ConfigError):
        emberkv.Redis(hz="fast")
    r = emberkv.Redis(hz=100, notify_keyspace_events="KEA")
    assert r.config_get("hz") == {"hz": "100"}
    assert r.config_get("notify-keyspace-events")["notify-keyspace-events"] in ("AKE", "KEA")


def test_from_url(tmpdir_path: str) -> None:
    r = emberkv.Redis.from_url("emberkv://")
    assert r.ping() and r._path is None
    d = os.path.join(tmpdir_path, "data")
    r2 = emberkv.from_url(f"emberkv://{d}?decode_responses=true&hz=20")
    assert r2.config_get("hz") == {"hz": "20"}
    r2.set("k", "v")
    assert r2.get("k") == "v"
    assert os.path.isdir(d)
    import emberkv.asyncio as ea

    assert isinstance(ea.Redis.from_url("emberkv://"), ea.Redis)
    with pytest.raises(ValueError, match="emberkv:///path"):
        emberkv.Redis.from_url("http://localhost:6379")
    # redis://, unix://, tcp:// attach to a server (tests/test_attach.py)
    with pytest.raises(emberkv.ConnectionError, match="cannot connect"):
        emberkv.Redis.from_url("redis://127.0.0.1:1")


def test_same_directory_shares_one_engine(tmpdir_path: str) -> None:
    a = emberkv.Redis(tmpdir_path)
    b_ = emberkv.Redis(tmpdir_path, decode_responses=True)
    a.set("k", "v")
    assert b_.get("k") == "v"
    with pytest.raises(ConfigError, match="already open"):
        emberkv.Redis(tmpdir_path, hz=77)


def test_in_memory_clients_are_separate() -> None:
    a, c = emberkv.Redis(), emberkv.Redis()
    a.set("k", "v")
    assert c.get("k") is None


def test_close(r: emberkv.Redis) -> None:
    from emberkv.exceptions import ConnectionError, DatabaseClosedError

    other = r.client()
    r.close()
    with pytest.raises(DatabaseClosedError):
        r.get("k")
    with pytest.raises(ConnectionError):
        r.set("k", "v")
    assert other.set("k", "v")  # the engine lives on while a client holds it
    other.shutdown_database()
    with pytest.raises(DatabaseClosedError):
        other.get("k")


def test_context_manager() -> None:
    with emberkv.Redis() as r:
        r.set("k", "v")
    with pytest.raises(emberkv.DatabaseClosedError):
        r.get("k")


def test_repr_and_version(r: emberkv.Redis) -> None:
    assert "memory" in repr(r)
    assert emberkv.__version__ == emberkv.ENGINE_VERSION
    assert emberkv.StrictRedis is emberkv.Redis
