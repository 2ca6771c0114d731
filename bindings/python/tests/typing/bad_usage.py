"""Must FAIL mypy: proves the stubs are precise (tests/test_typing.py)."""

import emberkv

r = emberkv.Redis()
s: str = r.get("k")  # bytes | None, not str
n: str = r.incr("n")  # int
