"""The tests run against the installed package, and the package is what
pip installs: the abi3 native module inside emberkv/."""

from __future__ import annotations

import os
import sysconfig

import emberkv
from emberkv import _emberkv


def test_imported_from_site_packages_not_the_source_tree() -> None:
    if os.environ.get("EMBERKV_ALLOW_SOURCE_TREE"):
        return
    pkg = os.path.realpath(os.path.dirname(emberkv.__file__))
    site = os.path.realpath(sysconfig.get_paths()["purelib"])
    assert pkg.startswith(site), f"emberkv imported from {pkg}, not the installed package in {site}"
    assert os.sep + os.path.join("bindings", "python", "python") not in pkg


def test_native_module_is_abi3() -> None:
    so = _emberkv.__file__
    assert so is not None and so.endswith(".abi3.so"), so
    assert os.path.dirname(so) == os.path.dirname(emberkv.__file__)


def test_versions() -> None:
    assert emberkv.__version__ == _emberkv.ENGINE_VERSION
    assert emberkv.REDIS_VERSION.count(".") == 2
