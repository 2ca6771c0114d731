"""The package is typed: py.typed + stubs; mypy --strict accepts typical code
and rejects wrong types; the generated stubs are up to date."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

import emberkv

HERE = os.path.dirname(os.path.abspath(__file__))
PKG_DIR = os.path.dirname(emberkv.__file__)


def test_typed_markers_installed() -> None:
    for name in ["py.typed", "client.pyi", "_emberkv.pyi", os.path.join("asyncio", "client.pyi")]:
        assert os.path.exists(os.path.join(PKG_DIR, name)), name


def _mypy(*files: str) -> subprocess.CompletedProcess[str]:
    pytest.importorskip("mypy")
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "--cache-dir", os.devnull, *files],
        capture_output=True, text=True, cwd=os.path.join(HERE, "typing"), timeout=600,
    )


def test_mypy_strict_accepts_typical_code() -> None:
    out = _mypy("usage_sync.py", "usage_async.py")
    assert out.returncode == 0, out.stdout + out.stderr


def test_mypy_rejects_wrong_types() -> None:
    out = _mypy("bad_usage.py")
    assert out.returncode == 1
    assert 'has type "bytes | None", variable has type "str"' in out.stdout
    assert 'has type "int", variable has type "str"' in out.stdout


def test_stubs_are_generated_from_the_commands() -> None:
    gen = os.path.join(HERE, "..", "tools", "gen_stubs.py")
    if not os.path.exists(gen):
        pytest.skip("source tree not available")
    out = subprocess.run([sys.executable, gen, "--check"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
