"""Helpers shared by the test modules."""

from __future__ import annotations

from typing import Any, List

import pytest


def missing_commands(r: Any, *names: str) -> List[str]:
    """The commands among ``names`` that the engine does not know."""
    info = r._conn.execute("COMMAND", "INFO", *names)  # raw: no COMMAND callback
    return [n for n, i in zip(names, info) if i is None]


def require(r: Any, *names: str) -> None:
    """Skips the test unless the engine serves every command in ``names``."""
    missing = missing_commands(r, *names)
    if missing:
        pytest.skip(f"the engine does not implement {', '.join(m.upper() for m in missing)} yet")


def b(client: Any, s: str) -> Any:
    """``s`` as the client returns strings (bytes unless decode_responses)."""
    return s if client.get_connection_kwargs()["decode_responses"] else s.encode()
