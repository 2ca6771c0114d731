"""Fixtures for emberkv's Python tests.

The tests import ``emberkv`` from the installed package (``run_tests.sh``
pip-installs it into the venv first); ``test_packaging.py`` checks that.
Tests of command families the engine does not serve yet skip, naming the
missing commands, and run as soon as the engine has them.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from typing import Any, Iterator

import pytest

import emberkv

sys.path.insert(0, os.path.dirname(__file__))  # for `from _util import ...`




@pytest.fixture
def r() -> Iterator[emberkv.Redis]:
    client = emberkv.Redis()
    yield client
    client.close()


@pytest.fixture
def rd() -> Iterator[emberkv.Redis]:
    client = emberkv.Redis(decode_responses=True)
    yield client
    client.close()


@pytest.fixture(params=[False, True], ids=["bytes", "decoded"])
def rr(request: Any) -> Iterator[emberkv.Redis]:
    """Both decode_responses settings."""
    client = emberkv.Redis(decode_responses=request.param)
    yield client
    client.close()


@pytest.fixture
def tmpdir_path() -> Iterator[str]:
    d = tempfile.mkdtemp(prefix="emberkv-py-")
    yield d
    shutil.rmtree(d, ignore_errors=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def redis_server() -> Iterator[int]:
    """A real redis-server on 127.0.0.1 (free port, temp dir), stopped by PID."""
    exe = shutil.which("redis-server")
    if exe is None:
        if os.environ.get("EMBERKV_REQUIRE_REDIS") == "1":
            pytest.fail("redis-server not found but EMBERKV_REQUIRE_REDIS=1")
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    d = tempfile.mkdtemp(prefix="emberkv-redis-")
    port = free_port()
    proc = subprocess.Popen(
        [exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", d],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail("redis-server did not start")
                time.sleep(0.02)
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, 9)
            proc.wait()
        shutil.rmtree(d, ignore_errors=True)
