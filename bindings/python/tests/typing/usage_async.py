"""Type-checked with `mypy --strict` by tests/test_typing.py (never run)."""

from __future__ import annotations

from typing import Dict, List, Optional, Tuple

import emberkv.asyncio


async def main() -> None:
    r = emberkv.asyncio.Redis(decode_responses=True)
    v: Optional[str] = await r.get("k")
    n: int = await r.rpush("l", "a", "b")
    items: List[str] = await r.lrange("l", 0, -1)
    popped: Optional[Tuple[str, str]] = await r.blpop(["l"], timeout=1)
    h: Dict[str, str] = await r.hgetall("h")
    keys = [k async for k in r.scan_iter()]
    first: str = keys[0]
    async with r.pipeline() as pipe:
        pipe.set("a", 1).incr("a")
        res: List[object] = await pipe.execute()
    p = r.pubsub()
    await p.subscribe("ch")
    msg = await p.get_message(timeout=None)
    _ = (v, n, items, popped, h, first, res, msg)
    await r.aclose()
