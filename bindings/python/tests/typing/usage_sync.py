"""Type-checked with `mypy --strict` by tests/test_typing.py (never run)."""

from __future__ import annotations

from typing import Dict, List, Optional, Set, Tuple

import emberkv
from emberkv.exceptions import ResponseError, WatchError


def strings() -> None:
    r = emberkv.Redis()
    v: Optional[bytes] = r.get("k")
    ok: Optional[bool | bytes] = r.set("k", "v", ex=10, nx=True)
    n: int = r.incr("n")
    f: float = r.incrbyfloat("f", 1.5)
    many: List[Optional[bytes]] = r.mget(["a", "b"])
    _ = (v, ok, n, f, many)


def decoded() -> None:
    r = emberkv.Redis(decode_responses=True)
    s: Optional[str] = r.get("k")
    h: Dict[str, str] = r.hgetall("h")
    m: Set[str] = r.smembers("s")
    z: List[str] | List[Tuple[str, float]] = r.zrange("z", 0, -1, withscores=True)
    keys: List[str] = [k for k in r.scan_iter(match="user:*")]
    _ = (s, h, m, z, keys)


def url_and_pipeline() -> None:
    r = emberkv.Redis.from_url("emberkv://", decode_responses=True)
    s: Optional[str] = r.get("k")
    with r.pipeline() as pipe:
        pipe.set("a", 1).incr("a").hset("h", mapping={"f": "v"})
        results: List[object] = pipe.execute()
    try:
        r.transaction(lambda p: p.multi(), "a")
    except (WatchError, ResponseError):
        pass
    _ = (s, results)


def pubsub() -> None:
    r = emberkv.Redis()
    p = r.pubsub(ignore_subscribe_messages=True)
    p.subscribe("chat", alerts=lambda m: print(m["data"]))
    msg = p.get_message(timeout=1.0)
    if msg is not None:
        data: object = msg["data"]
        _ = data
    worker = p.run_in_thread(daemon=True)
    worker.stop()
