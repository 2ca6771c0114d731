"""The synchronous client: ``Redis``, ``Pipeline``, ``PubSub``.

``Redis`` is redis-py's ``redis.Redis`` over an in-process engine: the same
methods, arguments, return values and exceptions, no server. Every command
goes through one native entry, ``Conn.execute``; see ``_commands.py`` for the
method layer and ``_callbacks.py`` for reply shaping.
"""

from __future__ import annotations

import functools
import os
import threading
import time
import weakref
from itertools import chain
from typing import Any, Callable, Dict, Iterator, List, Mapping, Optional, Tuple, Union
from urllib.parse import parse_qsl, quote, unquote, urlparse

from . import _emberkv
from ._callbacks import EMPTY_RESPONSE, RESPONSE_CALLBACKS
from ._commands import CoreCommands
from ._shared import Commands, PipelineCore, PubSubCore, apply_callback
from .exceptions import (
    ConfigError,
    ConnectionError,
    DatabaseClosedError,
    RedisError,
    ResponseError,
    StorageError,
    WatchError,
)

__all__ = ["Redis", "StrictRedis", "Pipeline", "PubSub", "PubSubWorkerThread", "open_database"]

_CLIENT_KWARGS = ("decode_responses", "encoding", "encoding_errors", "db")

# Open on-disk databases by real path: two clients on one directory share one
# engine (as two connections to one server do), never two engines on the
# same files.
_OPEN: "weakref.WeakValueDictionary[str, _emberkv.Database]" = weakref.WeakValueDictionary()
_OPEN_CONFIG: "weakref.WeakKeyDictionary[_emberkv.Database, Dict[str, str]]" = weakref.WeakKeyDictionary()
_OPEN_LOCK = threading.Lock()


def _config_text(config: Mapping[str, Any]) -> Dict[str, str]:
    out = {}
    for k, v in config.items():
        if isinstance(v, bool):
            v = "yes" if v else "no"
        elif isinstance(v, bytes):
            v = v.decode()
        out[k.replace("_", "-").lower()] = str(v)
    return out


def open_database(path: Optional[os.PathLike[str] | str] = None, **config: Any) -> _emberkv.Database:
    """The engine for ``path`` (None: a new in-memory one). An engine already
    open on the same directory in this process is shared; asking for it with
    a different configuration raises :class:`ConfigError`."""
    text = _config_text(config)
    if path is None:
        return _emberkv.Database(None, text)
    path = os.fspath(path)
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as e:
        raise StorageError(f"cannot use {path!r} as the data directory: {e.strerror or e}") from e
    key = os.path.realpath(path)
    with _OPEN_LOCK:
        db = _OPEN.get(key)
        if db is not None and not db.closed:
            first = _OPEN_CONFIG.get(db, {})
            clash = {k: v for k, v in text.items() if first.get(k) != v}
            if clash:
                raise ConfigError(f"{key} is already open in this process with another configuration (differs in {sorted(clash)})")
            return db
        db = _emberkv.Database(key, text)
        _OPEN[key] = db
        _OPEN_CONFIG[db] = text
        return db


# URL schemes of a server to attach to (a listening emberkv or any Redis).
_REMOTE_SCHEMES = ("unix", "redis", "tcp", "redis+unix")
_TRUE = ("1", "true", "yes", "on")


def _is_remote_url(url: str) -> bool:
    return urlparse(url).scheme in _REMOTE_SCHEMES


def _remote_args(url: str, kwargs: Dict[str, Any]) -> Dict[str, Any]:
    """Constructor arguments of a client attached to the server at ``url``:
    ``_database`` is a native ``Remote``; the client keyword arguments come
    from the query string and ``kwargs`` (which win). ``username`` and
    ``password`` keyword arguments log in as in the URL; other redis-py
    connection options (socket timeouts, retries, ...) are accepted and
    ignored."""
    u = urlparse(url)
    params: Dict[str, Any] = {}
    for name, value in parse_qsl(u.query, keep_blank_values=True):
        if name == "decode_responses":
            params[name] = value.lower() in _TRUE
        elif name in ("encoding", "encoding_errors"):
            params[name] = value
    params.update({k: v for k, v in kwargs.items() if k in _CLIENT_KWARGS})
    extra = []
    for k in ("username", "password"):
        if kwargs.get(k) is not None:
            extra.append(f"{k}={quote(str(kwargs[k]), safe='')}")
    if extra:
        url += ("&" if u.query else "?") + "&".join(extra)
    remote = _emberkv.Remote(url)
    if params.get("db") is None:
        params["db"] = remote.db
    params["_database"] = remote
    return params


def _listen(database: Any, url: str, options: Mapping[str, Any]) -> "_emberkv.Listener":
    if not isinstance(database, _emberkv.Database):
        raise RedisError("listen() serves an embedded engine; this client is attached to a server")
    return database.listen(url, _config_text(options))


def _parse_url(url: str) -> Tuple[Optional[str], Dict[str, Any]]:
    u = urlparse(url)
    if u.scheme != "emberkv":
        raise ValueError(
            f"emberkv URLs look like emberkv:///path/to/dir?appendonly=yes or emberkv:// (in memory), "
            f"or unix:///path.sock, redis://host:port/db, tcp://host:port to attach to a server; not {url!r}"
        )
    path = unquote(u.netloc + u.path) or None
    kwargs: Dict[str, Any] = {}
    for name, value in parse_qsl(u.query, keep_blank_values=True):
        if name == "decode_responses":
            kwargs[name] = value.lower() in ("1", "true", "yes", "on")
        elif name == "db":
            kwargs[name] = int(value)
        else:
            kwargs[name] = value
    return path, kwargs


class Redis(CoreCommands):
    """An embedded Redis with redis-py's API.

    ``path``: data directory (None: in memory). ``decode_responses``: replies
    as ``str`` instead of ``bytes``. Other keyword arguments are redis.conf
    directives (``appendonly="yes"``, ``hz=100``, ``notify_keyspace_events="KEA"``)
    applied when the engine opens; an unknown one raises
    :class:`~emberkv.exceptions.ConfigError`.

    One instance may be shared by any number of threads.
    """

    RESPONSE_CALLBACKS = RESPONSE_CALLBACKS

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> "Redis":
        """``emberkv:///path/to/dir?appendonly=yes`` or ``emberkv://`` (in
        memory) open an engine in this process; query parameters are keyword
        arguments of the constructor.

        ``unix:///path.sock``, ``redis://[[user]:password@]host[:port][/db]``
        and ``tcp://host:port`` attach to a server over its socket: an
        emberkv another process serves with :meth:`listen`, or any Redis
        server. The client then has the same methods, pipelines,
        transactions, pub/sub (pushed by the server) and blocking commands
        as an embedded one; its clients are a pool of sockets."""
        if _is_remote_url(url):
            return cls(**_remote_args(url, kwargs))
        path, params = _parse_url(url)
        params.update(kwargs)
        return cls(path, **params)

    def __init__(
        self,
        path: Optional[os.PathLike[str] | str] = None,
        decode_responses: bool = False,
        encoding: str = "utf-8",
        encoding_errors: str = "strict",
        db: int = 0,
        _database: Optional[Union[_emberkv.Database, _emberkv.Remote]] = None,
        **config: Any,
    ) -> None:
        self._database: Union[_emberkv.Database, _emberkv.Remote] = _database if _database is not None else open_database(path, **config)
        self._path = None if path is None else os.fspath(path)
        if isinstance(self._database, _emberkv.Remote):
            self._path = self._database.url
        self._conn = self._database.connect(decode_responses, encoding, encoding_errors, db)
        self._x = self._conn.execute
        self._kwargs = {"decode_responses": decode_responses, "encoding": encoding, "encoding_errors": encoding_errors, "db": db}
        self.response_callbacks: Dict[str, Callable[..., Any]] = dict(RESPONSE_CALLBACKS)

    def __repr__(self) -> str:
        where = self._path or "memory"
        return f"<{type(self).__module__}.{type(self).__name__}({where}, db={self._kwargs['db']})>"

    # -- plumbing ---------------------------------------------------------------

    def execute_command(self, *args: Any, **options: Any) -> Any:
        """Runs a command given as its words (``"SET", "k", "v"``) and shapes
        the reply with the command's response callback."""
        try:
            response = self._x(*args)
        except ResponseError:
            if EMPTY_RESPONSE in options:
                return options[EMPTY_RESPONSE]
            raise
        return apply_callback(self.response_callbacks, args[0], response, options)

    def set_response_callback(self, command: str, callback: Callable[..., Any]) -> None:
        """Sets a custom response callback (and turns off this client's
        native fast paths, which would bypass it)."""
        self.response_callbacks[command.upper()] = callback
        self._fast = False
        # instance attributes shadow the fast paths below
        self.get = functools.partial(CoreCommands.get, self)  # type: ignore[method-assign]
        self.set = functools.partial(CoreCommands.set, self)  # type: ignore[method-assign]

    def get_encoder(self) -> Any:
        return _Encoder(self._kwargs["encoding"], self._kwargs["encoding_errors"], self._kwargs["decode_responses"])

    def get_connection_kwargs(self) -> Dict[str, Any]:
        return dict(self._kwargs)

    def client(self) -> "Redis":
        """Another client of the same engine (its own connection state)."""
        return type(self)(_database=self._database, **self._kwargs)

    def pipeline(self, transaction: bool = True, shard_hint: Any = None) -> "Pipeline":
        """Buffers commands and runs them in one call to the engine on
        ``execute()``; ``transaction=True`` wraps them in MULTI/EXEC."""
        return Pipeline(self, transaction)

    def transaction(self, func: Callable[["Pipeline"], Any], *watches: Any, **kwargs: Any) -> Any:
        """Runs ``func(pipe)`` as a transaction watching ``watches``, retrying
        on :class:`WatchError` (redis-py's ``Redis.transaction``)."""
        kwargs.pop("shard_hint", None)
        value_from_callable = kwargs.pop("value_from_callable", False)
        watch_delay = kwargs.pop("watch_delay", None)
        with self.pipeline(True) as pipe:
            while True:
                try:
                    if watches:
                        pipe.watch(*watches)
                    func_value = func(pipe)
                    exec_value = pipe.execute()
                    return func_value if value_from_callable else exec_value
                except WatchError:
                    if watch_delay is not None and watch_delay > 0:
                        time.sleep(watch_delay)
                    continue

    def pubsub(self, **kwargs: Any) -> "PubSub":
        """A pub/sub object; messages are pushed by the engine."""
        return PubSub(self, **kwargs)

    def listen(self, url: str, **options: Any) -> "_emberkv.Listener":
        """Serves this client's engine on Redis's protocol at ``url``
        (``unix:///path.sock`` or ``tcp://host:port``, port 0 for a free one)
        so other processes attach with ``emberkv.Redis.from_url(url)``,
        redis-py, redis-cli or any Redis client. ``options`` are redis.conf
        names (``requirepass="..."``, ``unixsocketperm="700"``,
        ``maxclients=100``, ``timeout=60``, ``protected_mode="no"``,
        ``io_threads=2``, ...); the network ones (requirepass, maxclients,
        timeout, ...) are set on the engine, as they are server-wide in Redis.
        Returns the listener: ``close()`` stops it (also ``with``); it stops
        when the engine closes."""
        return _listen(self._database, url, options)

    def close(self) -> None:
        """Releases this client. The engine closes (flushing its files) when
        its last client is closed or garbage collected."""
        conn = getattr(self, "_conn", None)
        if conn is not None:
            conn.close()

    def shutdown_database(self) -> None:
        """Closes the engine itself, for every client that shares it."""
        self._database.close()

    def __enter__(self) -> "Redis":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass

    # -- native fast paths: the same results, less Python per call --------------

    def get(self, name: Any) -> Any:
        return self._x("GET", name)

    def set(self, name: Any, value: Any, ex: Any = None, px: Any = None, nx: bool = False, xx: bool = False, keepttl: bool = False, get: bool = False, exat: Any = None, pxat: Any = None) -> Any:
        if ex is px is exat is pxat is None and not (nx or xx or keepttl or get):
            # SET without options answers OK; anything else raised already
            self._x("SET", name, value)
            return True
        return CoreCommands.set(self, name, value, ex, px, nx, xx, keepttl, get, exat, pxat)

    def __getitem__(self, name: Any) -> Any:
        value = self.get(name)
        if value is not None:
            return value
        raise KeyError(name)

    def __setitem__(self, name: Any, value: Any) -> None:
        self.set(name, value)

    _fast = True


StrictRedis = Redis


class _Encoder:
    """redis-py's ``Encoder`` shape (encode/decode), for code that asks for it."""

    def __init__(self, encoding: str, encoding_errors: str, decode_responses: bool) -> None:
        self.encoding = encoding
        self.encoding_errors = encoding_errors
        self.decode_responses = decode_responses

    def encode(self, value: Any) -> Any:
        from .exceptions import DataError

        if isinstance(value, (bytes, memoryview)):
            return value
        if isinstance(value, bool):
            raise DataError("Invalid input of type: 'bool'. Convert to a bytes, string, int or float first.")
        if isinstance(value, (int, float)):
            return repr(value).encode()
        if not isinstance(value, str):
            raise DataError(f"Invalid input of type: '{type(value).__name__}'. Convert to a bytes, string, int or float first.")
        return value.encode(self.encoding, self.encoding_errors)

    def decode(self, value: Any, force: bool = False) -> Any:
        if self.decode_responses or force:
            if isinstance(value, memoryview):
                value = value.tobytes()
            if isinstance(value, bytes):
                value = value.decode(self.encoding, self.encoding_errors)
        return value


# ---- pipelines ----------------------------------------------------------------


class Pipeline(PipelineCore, CoreCommands):
    """redis-py's ``Pipeline``: command methods buffer and return the
    pipeline; ``execute()`` runs the batch (in MULTI/EXEC when
    ``transaction``) and returns the results. ``watch()`` switches to
    immediate mode until ``multi()``. The pipeline owns its own engine
    client, so its MULTI state and WATCHed keys are its own."""

    def __init__(self, redis: Redis, transaction: bool = True) -> None:
        self._setup(redis)
        self.transaction = transaction

    def __enter__(self) -> "Pipeline":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.reset()

    def __del__(self) -> None:
        try:
            self.reset()
        except Exception:
            pass
        self._close_session()

    def reset(self) -> None:
        self._clear()

    def close(self) -> None:
        self.reset()

    def immediate_execute_command(self, *args: Any, **options: Any) -> Any:
        try:
            response = self._sess().execute(*args)
        except ResponseError:
            if EMPTY_RESPONSE in options:
                return options[EMPTY_RESPONSE]
            raise
        except ConnectionError as e:
            if self.watching:
                self.reset()
                raise self._watch_lost(e) from e
            raise
        return self._immediate_reply(args[0], response, options)

    def _execute_transaction(self, commands: Commands, raise_on_error: bool) -> List[Any]:
        replies = self._sess().execute_many(self._transaction_argv(commands))
        return self._transaction_result(commands, replies, raise_on_error)

    def _execute_pipeline(self, commands: Commands, raise_on_error: bool) -> List[Any]:
        replies = self._sess().execute_many([args for args, _ in commands])
        return self._pipeline_result(commands, replies, raise_on_error)

    def execute(self, raise_on_error: bool = True) -> List[Any]:
        """Runs the buffered commands; returns their results in order."""
        stack = self.command_stack
        if not stack and not self.watching:
            return []
        try:
            if self.transaction or self.explicit_transaction:
                return self._execute_transaction(stack, raise_on_error)
            return self._execute_pipeline(stack, raise_on_error)
        finally:
            self.reset()

    def discard(self) -> None:
        self.execute_command("DISCARD")

    def watch(self, *names: Any) -> bool:
        """WATCHes keys; the pipeline runs commands immediately until multi()."""
        self._check_watch()
        return self.execute_command("WATCH", *names)

    def unwatch(self) -> bool:
        return self.watching and self.execute_command("UNWATCH") or True


# ---- pub/sub ------------------------------------------------------------------


class PubSub(PubSubCore):
    """redis-py's ``PubSub``: subscribe/psubscribe with optional handlers
    (``p.subscribe(**{"chat": handler})``), ``get_message``, ``listen``,
    ``run_in_thread``. Messages are dicts ``{"type", "pattern", "channel",
    "data"}``; the engine pushes them into a bounded queue, and waiting
    releases the GIL."""

    def __init__(self, redis: Redis, ignore_subscribe_messages: bool = False, **kwargs: Any) -> None:
        self.subscribed_event = threading.Event()
        self._setup(redis, ignore_subscribe_messages)

    def __enter__(self) -> "PubSub":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.reset()

    def __del__(self) -> None:
        try:
            self.reset()
        except Exception:
            pass

    def reset(self) -> None:
        self._close_native()
        self._clear_registries()
        self.subscribed_event.clear()

    def close(self) -> None:
        self.reset()

    @property
    def subscribed(self) -> bool:
        return self.subscribed_event.is_set()

    def _on_subscribed(self) -> None:
        if not self.subscribed:
            self.subscribed_event.set()

    def _on_unsubscribed(self) -> None:
        if not self.channels and not self.patterns and not self.shard_channels:
            self.subscribed_event.clear()

    def execute_command(self, *args: Any) -> None:
        """Sends a (P|S)(UN)SUBSCRIBE command (redis-py's entry)."""
        self._send(args)

    def psubscribe(self, *args: Any, **kwargs: Any) -> None:
        """Subscribes to patterns; keyword arguments map a pattern to a handler."""
        self._subscribe("psubscribe", self.patterns, self.pending_unsubscribe_patterns, args, kwargs)

    def subscribe(self, *args: Any, **kwargs: Any) -> None:
        """Subscribes to channels; keyword arguments map a channel to a handler."""
        self._subscribe("subscribe", self.channels, self.pending_unsubscribe_channels, args, kwargs)

    def ssubscribe(self, *args: Any, target_node: Any = None, **kwargs: Any) -> None:
        self._subscribe("ssubscribe", self.shard_channels, self.pending_unsubscribe_shard_channels, args, kwargs)

    def unsubscribe(self, *args: Any) -> None:
        """Unsubscribes from channels (all when none given)."""
        self._unsubscribe("unsubscribe", self.channels, self.pending_unsubscribe_channels, args)

    def punsubscribe(self, *args: Any) -> None:
        self._unsubscribe("punsubscribe", self.patterns, self.pending_unsubscribe_patterns, args)

    def sunsubscribe(self, *args: Any, target_node: Any = None) -> None:
        self._unsubscribe("sunsubscribe", self.shard_channels, self.pending_unsubscribe_shard_channels, args)

    def listen(self) -> Iterator[Dict[str, Any]]:
        """Yields messages as they arrive, while subscribed."""
        while self.subscribed:
            sub = self._sub
            if sub is None:
                break
            response = self.handle_message(sub.get(None))
            if response is not None:
                yield response

    def get_message(self, ignore_subscribe_messages: bool = False, timeout: Optional[float] = 0.0) -> Optional[Dict[str, Any]]:
        """The next message, or None. ``timeout``: seconds to wait (0: don't;
        None: until one arrives)."""
        if not self.subscribed:
            start = time.monotonic()
            if self.subscribed_event.wait(timeout) is True:
                if timeout is not None:
                    timeout = max(0.0, timeout - (time.monotonic() - start))
            else:
                return None
        sub = self._sub
        if sub is None:
            return None
        m = sub.get(timeout)
        if m is None:
            return None
        return self.handle_message(m, ignore_subscribe_messages)

    get_sharded_message = get_message

    def handle_message(self, response: Any, ignore_subscribe_messages: bool = False) -> Optional[Dict[str, Any]]:
        """Shapes a message (a dict from the engine, or redis-py's list form),
        runs its handler if the channel has one (returning None then), and
        keeps the subscription bookkeeping."""
        if response is None:
            return None
        handler, message = self._route(response, ignore_subscribe_messages)
        if handler is not None:
            handler(message)
            return None
        return message

    def run_in_thread(self, sleep_time: float = 0.0, daemon: bool = False, exception_handler: Optional[Callable[..., Any]] = None, pubsub: Optional["PubSub"] = None, sharded_pubsub: bool = False) -> "PubSubWorkerThread":
        """Runs the handlers on a thread that waits for messages (no polling);
        ``stop()`` ends it and closes the pubsub."""
        self._check_handlers(shard=True)
        thread = PubSubWorkerThread(pubsub or self, sleep_time, daemon=daemon, exception_handler=exception_handler)
        thread.start()
        return thread


class PubSubWorkerThread(threading.Thread):
    """Calls ``get_message`` in a loop; the wait inside is a real wait in the
    engine (the GIL released), and ``stop()`` wakes it at once."""

    def __init__(self, pubsub: PubSub, sleep_time: float, daemon: bool = False, exception_handler: Optional[Callable[..., Any]] = None) -> None:
        super().__init__()
        self.daemon = daemon
        self.pubsub = pubsub
        self.sleep_time = sleep_time
        self.exception_handler = exception_handler
        self._running = threading.Event()

    def run(self) -> None:
        if self._running.is_set():
            return
        self._running.set()
        pubsub = self.pubsub
        # sleep_time only bounds each wait (redis-py's meaning); 0 would spin
        wait = self.sleep_time if self.sleep_time and self.sleep_time > 0 else None
        while self._running.is_set():
            try:
                pubsub.get_message(ignore_subscribe_messages=True, timeout=wait)
            except BaseException as e:
                if not self._running.is_set() and isinstance(e, DatabaseClosedError):
                    break
                if self.exception_handler is None:
                    raise
                self.exception_handler(e, pubsub, self)
        pubsub.close()

    def stop(self) -> None:
        self._running.clear()
        # wake the wait: closing the subscription ends get_message at once
        sub = self.pubsub._sub
        if sub is not None:
            sub.close()
        self.pubsub.subscribed_event.set()


_ = chain
