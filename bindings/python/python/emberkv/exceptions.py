"""Exceptions raised by emberkv: redis-py's names and hierarchy, so code
written against ``redis.exceptions`` catches the same errors, plus a few of
emberkv's own for failures a server would never report to a client (storage,
configuration, a closed database).

Redis error replies map as in redis-py: the first word is the error code;
``EXECABORT`` raises :class:`ExecAbortError`, ``NOSCRIPT``
:class:`NoScriptError`, ``ERR`` and unknown codes :class:`ResponseError`
(``WRONGTYPE ...`` keeps its code in the message, as redis-py does).
"""

from __future__ import annotations

from typing import Optional

__all__ = [
    "RedisError", "ConnectionError", "TimeoutError", "AuthenticationError", "AuthorizationError",
    "BusyLoadingError", "InvalidResponse", "ResponseError", "DataError", "PubSubError", "WatchError",
    "NoScriptError", "OutOfMemoryError", "ExecAbortError", "ReadOnlyError", "NoPermissionError",
    "ModuleError", "LockError", "LockNotOwnedError", "ChildDeadlockedError",
    "AuthenticationWrongNumberOfArgsError", "RedisClusterException", "ClusterError", "ClusterDownError",
    "AskError", "TryAgainError", "ClusterCrossSlotError", "MovedError", "MasterDownError",
    "SlotNotCoveredError", "MaxConnectionsError",
    # emberkv's own
    "DatabaseClosedError", "ConfigError", "StorageError", "CorruptionError", "SubscriberOverflowError",
    "InternalError",
]


class RedisError(Exception):
    def __init__(self, *args: object, status_code: Optional[str] = None) -> None:
        super().__init__(*args)
        self.status_code = status_code


class ConnectionError(RedisError):
    pass


class TimeoutError(RedisError):
    pass


class AuthenticationError(ConnectionError):
    pass


class AuthorizationError(ConnectionError):
    pass


class BusyLoadingError(ConnectionError):
    pass


class InvalidResponse(RedisError):
    pass


class ResponseError(RedisError):
    pass


class DataError(RedisError):
    pass


class PubSubError(RedisError):
    pass


class WatchError(RedisError):
    pass


class NoScriptError(ResponseError):
    pass


class OutOfMemoryError(ResponseError):
    pass


class ExecAbortError(ResponseError):
    pass


class ReadOnlyError(ResponseError):
    pass


class NoPermissionError(ResponseError):
    pass


class ModuleError(ResponseError):
    pass


class LockError(RedisError, ValueError):
    def __init__(self, message: Optional[str] = None, lock_name: Optional[str] = None) -> None:
        self.message = message
        self.lock_name = lock_name
        super().__init__(message)


class LockNotOwnedError(LockError):
    pass


class ChildDeadlockedError(Exception):
    pass


class AuthenticationWrongNumberOfArgsError(ResponseError):
    pass


class RedisClusterException(Exception):
    pass


class ClusterError(RedisError):
    pass


class ClusterDownError(ClusterError, ResponseError):
    pass


class AskError(ResponseError):
    pass


class TryAgainError(ResponseError):
    pass


class ClusterCrossSlotError(ResponseError):
    pass


class MovedError(AskError):
    pass


class MasterDownError(ClusterDownError):
    pass


class SlotNotCoveredError(RedisClusterException):
    pass


class MaxConnectionsError(ConnectionError):
    pass


# ---- emberkv's own ---------------------------------------------------------


class DatabaseClosedError(ConnectionError):
    """The database (or this client, or this subscription) was closed."""


class ConfigError(RedisError, ValueError):
    """A configuration directive is unknown or its value is invalid."""


class StorageError(RedisError):
    """Reading or writing a data file failed; the message names the file and
    the reason (the operating system's, or the engine's)."""


class CorruptionError(StorageError):
    """A data file is damaged or not in a format emberkv reads; the message
    names the file and where."""


class SubscriberOverflowError(ConnectionError, PubSubError):
    """A subscriber fell further behind than ``client-output-buffer-limit
    pubsub`` allows and was disconnected, as Redis disconnects a slow client."""


class InternalError(RedisError):
    """A bug inside the engine (it panicked); the database stays usable."""
