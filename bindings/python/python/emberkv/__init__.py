"""emberkv: Redis, embedded. The engine runs inside this process; the API is
redis-py's.

    import emberkv
    r = emberkv.Redis("data", appendonly="yes")    # or emberkv.Redis() in memory
    r.set("greeting", "hello")
    r.get("greeting")                              # b'hello'

    # serve it to other processes, which attach with the same API:
    listener = r.listen("unix:///tmp/app.sock")
    other = emberkv.Redis.from_url("unix:///tmp/app.sock")   # (in another process)

``emberkv.asyncio.Redis`` is the same API for asyncio programs.
"""

from __future__ import annotations

import atexit

from . import exceptions
from ._emberkv import ENGINE_VERSION, REDIS_VERSION, Listener, _close_all
from .client import Pipeline, PubSub, Redis, StrictRedis, open_database
from .exceptions import (
    AuthenticationError,
    BusyLoadingError,
    ConfigError,
    ConnectionError,
    CorruptionError,
    DatabaseClosedError,
    DataError,
    ExecAbortError,
    InvalidResponse,
    NoScriptError,
    OutOfMemoryError,
    PubSubError,
    ReadOnlyError,
    RedisError,
    ResponseError,
    StorageError,
    SubscriberOverflowError,
    TimeoutError,
    WatchError,
)

__version__ = ENGINE_VERSION

# Close every engine and subscription before the interpreter finalizes:
# engine threads that call back into Python must be stopped first.
atexit.register(_close_all)


def from_url(url: str, **kwargs: object) -> Redis:
    """``emberkv:///path/to/dir?appendonly=yes`` or ``emberkv://`` (in memory);
    ``unix:///path.sock``, ``redis://host:port/db``, ``tcp://host:port``
    attach to a server (see ``Redis.from_url``)."""
    return Redis.from_url(url, **kwargs)  # type: ignore[arg-type]


__all__ = [
    "Redis", "StrictRedis", "Pipeline", "PubSub", "Listener", "from_url", "open_database", "exceptions",
    "ENGINE_VERSION", "REDIS_VERSION", "__version__",
    "AuthenticationError", "BusyLoadingError", "ConfigError", "ConnectionError", "CorruptionError",
    "DatabaseClosedError", "DataError", "ExecAbortError", "InvalidResponse", "NoScriptError",
    "OutOfMemoryError", "PubSubError", "ReadOnlyError", "RedisError", "ResponseError", "StorageError",
    "SubscriberOverflowError", "TimeoutError", "WatchError",
]
