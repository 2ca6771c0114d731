"""Persistence through the Python package: data written, the process gone,
the directory reopened. Skips, naming the missing engine feature, until the
engine persists (AOF: `appendonly`; RDB: SAVE)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest
from _util import missing_commands

import emberkv
from emberkv.exceptions import ConfigError, CorruptionError, StorageError


def _require_aof(path: str) -> None:
    try:
        r = emberkv.Redis(path, appendonly="yes")
    except ConfigError as e:
        pytest.skip(f"the engine does not persist yet: {e} (AOF persistence, `appendonly yes`)")
    r.shutdown_database()


def _run(code: str) -> str:
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_aof_reopen_in_a_new_process(tmpdir_path: str) -> None:
    _require_aof(os.path.join(tmpdir_path, "probe"))
    d = os.path.join(tmpdir_path, "data")
    _run(
        f"""
        import emberkv
        r = emberkv.Redis({d!r}, appendonly="yes", appendfsync="always")
        r.set("greeting", "hello")
        r.incr("counter", 41)
        r.expire("greeting", 1000)
        with r.pipeline() as p:
            p.set("tx", 1).incr("tx")
            p.execute()
        """
    )
    out = _run(
        f"""
        import emberkv
        r = emberkv.Redis({d!r}, appendonly="yes", decode_responses=True)
        print(r.get("greeting"), r.get("counter"), r.get("tx"), 0 < r.ttl("greeting") <= 1000)
        """
    )
    assert out.split() == ["hello", "41", "2", "True"]


def test_rdb_save_and_reopen(tmpdir_path: str) -> None:
    probe = emberkv.Redis()
    if missing_commands(probe, "save"):
        pytest.skip("the engine does not implement SAVE (RDB snapshots) yet")
    d = os.path.join(tmpdir_path, "rdb")
    r = emberkv.Redis(d)
    r.mset({"a": 1, "b": 2})
    assert r.save() is True
    r.shutdown_database()
    r2 = emberkv.Redis(d)
    assert r2.mget("a", "b") == [b"1", b"2"]


def test_close_flushes_in_the_same_process(tmpdir_path: str) -> None:
    _require_aof(os.path.join(tmpdir_path, "probe"))
    d = os.path.join(tmpdir_path, "same")
    r = emberkv.Redis(d, appendonly="yes")
    r.set("k", "v")
    r.shutdown_database()
    del r
    r2 = emberkv.Redis(d, appendonly="yes")
    assert r2.get("k") == b"v"


def test_corrupt_file_is_a_clear_error(tmpdir_path: str) -> None:
    _require_aof(os.path.join(tmpdir_path, "probe"))
    d = os.path.join(tmpdir_path, "bad")
    os.makedirs(d)
    with open(os.path.join(d, "dump.rdb"), "wb") as f:
        f.write(b"REDIS0011" + b"\xfe\x00garbage" * 10)
    with pytest.raises(StorageError) as e:
        emberkv.Redis(d)
    assert "dump.rdb" in str(e.value)
    assert isinstance(e.value, CorruptionError)


def test_unusable_directory_is_a_storage_error(tmpdir_path: str) -> None:
    f = os.path.join(tmpdir_path, "a-file")
    with open(f, "w") as fh:
        fh.write("not a directory")
    with pytest.raises(StorageError) as e:
        emberkv.Redis(f)
    assert "a-file" in str(e.value)
