"""emberkv for asyncio: ``redis.asyncio``'s API over the in-process engine.

    import emberkv.asyncio
    r = emberkv.asyncio.Redis()
    await r.set("k", "v"); await r.get("k")
"""

from __future__ import annotations

from .client import Pipeline, PubSub, Redis, StrictRedis


def from_url(url: str, **kwargs: object) -> Redis:
    return Redis.from_url(url, **kwargs)  # type: ignore[arg-type]


__all__ = ["Redis", "StrictRedis", "Pipeline", "PubSub", "from_url"]
