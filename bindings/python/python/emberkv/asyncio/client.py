"""The asyncio client: ``redis.asyncio``'s API over the in-process engine.

Commands that finish in microseconds run directly on the event loop thread
(there is no I/O to wait for). Blocking commands (BLPOP …) run on a thread
of their own and hand their reply back with ``loop.call_soon_threadsafe``;
pub/sub waits are woken the same way by the subscription's helper thread.
Nothing polls and nothing blocks the loop.
"""

from __future__ import annotations

import asyncio
import inspect
import os
from typing import Any, AsyncIterator, Awaitable, Callable, Dict, List, Mapping, Optional, Tuple, Union

from .. import _emberkv
from .._callbacks import EMPTY_RESPONSE, RESPONSE_CALLBACKS
from .._commands import AsyncScanCommands, CoreCommands, list_or_args
from ..client import _annotate, _Encoder, _is_remote_url, _listen, _parse_url, _remote_args, open_database
from ..exceptions import ConnectionError, DatabaseClosedError, ExecAbortError, PubSubError, RedisError, ResponseError, WatchError

__all__ = ["Redis", "StrictRedis", "Pipeline", "PubSub"]


def _resolve(fut: "asyncio.Future[Any]", value: Any, is_error: bool) -> None:
    if fut.done():
        return
    if is_error:
        fut.set_exception(value)
    else:
        fut.set_result(value)


def _apply_callback(callbacks: Dict[str, Callable[..., Any]], name: Any, response: Any, options: Dict[str, Any]) -> Any:
    cb = callbacks.get(name)
    if cb is None and isinstance(name, (str, bytes)):
        key = name.decode("latin-1") if isinstance(name, bytes) else name
        cb = callbacks.get(key.upper())
    if cb is None:
        return response
    if options:
        options.pop("keys", None)
        options.pop(EMPTY_RESPONSE, None)
    return cb(response, **options)


class Redis(AsyncScanCommands, CoreCommands):
    """``redis.asyncio.Redis`` with the engine in-process: ``await r.get(k)``."""

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> "Redis":
        """As ``emberkv.Redis.from_url``: ``emberkv://`` opens an engine here,
        ``unix://``, ``redis://``, ``tcp://`` attach to a server."""
        if _is_remote_url(url):
            return cls(**_remote_args(url, kwargs))
        path, params = _parse_url(url)
        params.update(kwargs)
        return cls(path, **params)

    def __init__(
        self,
        path: Optional[Union[os.PathLike[str], str]] = None,
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
        self._blocking_names: Dict[Any, bool] = {}

    def __repr__(self) -> str:
        return f"<{type(self).__module__}.{type(self).__name__}({self._path or 'memory'}, db={self._kwargs['db']})>"

    def _is_blocking(self, name: Any) -> bool:
        b = self._blocking_names.get(name)
        if b is None:
            raw = name.encode() if isinstance(name, str) else bytes(name)
            b = self._conn.command_class(raw.split()[0] if raw.strip() else raw) == "blocking"
            self._blocking_names[name] = b
        return b

    async def _threaded(self, args: Tuple[Any, ...]) -> Any:
        loop = asyncio.get_running_loop()
        fut: "asyncio.Future[Any]" = loop.create_future()

        def done(value: Any, is_error: bool) -> None:
            try:
                loop.call_soon_threadsafe(_resolve, fut, value, is_error)
            except RuntimeError:
                pass  # the loop is gone; nobody is waiting

        cid = self._conn.execute_threaded(done, *args)
        try:
            return await fut
        except asyncio.CancelledError:
            # don't leave the engine client blocked (and popping) for nobody
            try:
                self._conn.execute("CLIENT", "UNBLOCK", cid)
            except RedisError:
                pass
            raise

    async def execute_command(self, *args: Any, **options: Any) -> Any:
        try:
            if self._is_blocking(args[0]):
                response = await self._threaded(args)
            else:
                response = self._x(*args)
        except ResponseError:
            if EMPTY_RESPONSE in options:
                return options[EMPTY_RESPONSE]
            raise
        return _apply_callback(self.response_callbacks, args[0], response, options)

    def set_response_callback(self, command: str, callback: Callable[..., Any]) -> None:
        self.response_callbacks[command.upper()] = callback

    def get_encoder(self) -> Any:
        return _Encoder(self._kwargs["encoding"], self._kwargs["encoding_errors"], self._kwargs["decode_responses"])

    def get_connection_kwargs(self) -> Dict[str, Any]:
        return dict(self._kwargs)

    def client(self) -> "Redis":
        return type(self)(_database=self._database, **self._kwargs)

    def pipeline(self, transaction: bool = True, shard_hint: Any = None) -> "Pipeline":
        return Pipeline(self, transaction)

    async def transaction(self, func: Callable[["Pipeline"], Any], *watches: Any, **kwargs: Any) -> Any:
        """``func(pipe)`` (sync or async) as a transaction watching ``watches``,
        retried on :class:`WatchError`."""
        kwargs.pop("shard_hint", None)
        value_from_callable = kwargs.pop("value_from_callable", False)
        watch_delay = kwargs.pop("watch_delay", None)
        async with self.pipeline(True) as pipe:
            while True:
                try:
                    if watches:
                        await pipe.watch(*watches)
                    func_value = func(pipe)
                    if inspect.isawaitable(func_value):
                        func_value = await func_value
                    exec_value = await pipe.execute()
                    return func_value if value_from_callable else exec_value
                except WatchError:
                    if watch_delay is not None and watch_delay > 0:
                        await asyncio.sleep(watch_delay)
                    continue

    def pubsub(self, **kwargs: Any) -> "PubSub":
        return PubSub(self, **kwargs)

    def listen(self, url: str, **options: Any) -> "_emberkv.Listener":
        """As ``emberkv.Redis.listen`` (not a coroutine: binding is immediate)."""
        return _listen(self._database, url, options)

    async def aclose(self, close_connection_pool: Optional[bool] = None) -> None:
        self._conn.close()

    async def close(self, close_connection_pool: Optional[bool] = None) -> None:
        await self.aclose()

    def shutdown_database(self) -> None:
        self._database.close()

    async def __aenter__(self) -> "Redis":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.aclose()

    def __await__(self) -> Any:
        async def _self() -> "Redis":
            return self

        return _self().__await__()

    def __del__(self) -> None:
        try:
            self._conn.close()
        except Exception:
            pass


StrictRedis = Redis


class Pipeline(CoreCommands):
    """``redis.asyncio`` pipeline: command methods buffer (and return the
    pipeline); ``await pipe.execute()`` runs them; after ``await
    pipe.watch(...)`` commands run immediately (await them) until
    ``pipe.multi()``."""

    UNWATCH_COMMANDS = {"DISCARD", "EXEC", "UNWATCH"}

    def __init__(self, redis: Redis, transaction: bool = True) -> None:
        self._redis = redis
        self._session: Optional[_emberkv.Session] = None
        self.response_callbacks = redis.response_callbacks
        self.is_transaction = transaction
        self.watching = False
        self.explicit_transaction = False
        self.command_stack: List[Tuple[Tuple[Any, ...], Dict[str, Any]]] = []

    def _sess(self) -> _emberkv.Session:
        s = self._session
        if s is None:
            s = self._session = self._redis._conn.session()
        return s

    async def __aenter__(self) -> "Pipeline":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.reset()

    def __await__(self) -> Any:
        async def _self() -> "Pipeline":
            return self

        return _self().__await__()

    def __len__(self) -> int:
        return len(self.command_stack)

    def __bool__(self) -> bool:
        return True

    def __del__(self) -> None:
        try:
            if self._session is not None:
                self._session.close()
        except Exception:
            pass

    async def reset(self) -> None:
        self.command_stack = []
        if self.watching and self._session is not None:
            try:
                self._session.execute("UNWATCH")
            except ConnectionError:
                pass
        self.watching = False
        self.explicit_transaction = False

    async def aclose(self) -> None:
        await self.reset()

    def multi(self) -> None:
        if self.explicit_transaction:
            raise RedisError("Cannot issue nested calls to MULTI")
        if self.command_stack:
            raise RedisError("Commands without an initial WATCH have already been issued")
        self.explicit_transaction = True

    def execute_command(self, *args: Any, **kwargs: Any) -> Any:
        if (self.watching or args[0] == "WATCH") and not self.explicit_transaction:
            return self.immediate_execute_command(*args, **kwargs)
        return self.pipeline_execute_command(*args, **kwargs)

    async def immediate_execute_command(self, *args: Any, **options: Any) -> Any:
        name = args[0]
        try:
            if self._redis._is_blocking(name):
                response = await asyncio.get_running_loop().run_in_executor(None, lambda: self._sess().execute(*args))
            else:
                response = self._sess().execute(*args)
        except ResponseError:
            if EMPTY_RESPONSE in options:
                return options[EMPTY_RESPONSE]
            raise
        except ConnectionError as e:
            if self.watching:
                await self.reset()
                raise WatchError(f"A {type(e).__name__} occurred while watching one or more keys") from e
            raise
        if name in self.UNWATCH_COMMANDS:
            self.watching = False
        elif name == "WATCH":
            self.watching = True
        return _apply_callback(self.response_callbacks, name, response, options)

    def pipeline_execute_command(self, *args: Any, **options: Any) -> "Pipeline":
        self.command_stack.append((args, options))
        return self

    async def _run_many(self, cmds: List[Tuple[Any, ...]], may_block: bool) -> List[Any]:
        sess = self._sess()
        if may_block:
            # a blocking command outside MULTI waits: not on the event loop
            return await asyncio.get_running_loop().run_in_executor(None, sess.execute_many, cmds)
        return sess.execute_many(cmds)

    async def _execute_transaction(self, commands: List[Tuple[Tuple[Any, ...], Dict[str, Any]]], raise_on_error: bool) -> List[Any]:
        sent = [args for args, options in commands if EMPTY_RESPONSE not in options]
        replies = await self._run_many([("MULTI",), *sent, ("EXEC",)], False)
        it = iter(replies)
        errors: List[Tuple[int, BaseException]] = []
        multi = next(it)
        if isinstance(multi, ResponseError):
            errors.append((0, multi))
        for i, (args, options) in enumerate(commands):
            if EMPTY_RESPONSE in options:
                errors.append((i, options[EMPTY_RESPONSE]))
                continue
            r = next(it)
            if isinstance(r, ResponseError):
                _annotate(r, i + 1, args)
                errors.append((i, r))
        response = next(it)
        if isinstance(response, ExecAbortError):
            if errors:
                raise errors[0][1]
            raise response
        if isinstance(response, BaseException):
            raise response
        self.watching = False
        if response is None:
            raise WatchError("Watched variable changed.")
        for i, e in errors:
            response.insert(i, e)
        if len(response) != len(commands):
            raise ResponseError("Wrong number of response items from pipeline execution")
        if raise_on_error:
            self.raise_first_error(commands, response)
        data = []
        for r, (args, options) in zip(response, commands):
            if not isinstance(r, Exception):
                r = _apply_callback(self.response_callbacks, args[0], r, dict(options))
            data.append(r)
        return data

    async def _execute_pipeline(self, commands: List[Tuple[Tuple[Any, ...], Dict[str, Any]]], raise_on_error: bool) -> List[Any]:
        may_block = any(self._redis._is_blocking(args[0]) for args, _ in commands)
        replies = await self._run_many([args for args, _ in commands], may_block)
        out = []
        for r, (args, options) in zip(replies, commands):
            if isinstance(r, ResponseError):
                if EMPTY_RESPONSE in options:
                    r = options[EMPTY_RESPONSE]
                out.append(r)
                continue
            out.append(_apply_callback(self.response_callbacks, args[0], r, dict(options)))
        if raise_on_error:
            self.raise_first_error(commands, out)
        return out

    def raise_first_error(self, commands: List[Tuple[Tuple[Any, ...], Dict[str, Any]]], response: List[Any]) -> None:
        for i, r in enumerate(response):
            if isinstance(r, ResponseError):
                _annotate(r, i + 1, commands[i][0])
                raise r

    async def execute(self, raise_on_error: bool = True) -> List[Any]:
        stack = self.command_stack
        if not stack and not self.watching:
            return []
        try:
            if self.is_transaction or self.explicit_transaction:
                return await self._execute_transaction(stack, raise_on_error)
            return await self._execute_pipeline(stack, raise_on_error)
        finally:
            await self.reset()

    async def discard(self) -> None:
        await self.execute_command("DISCARD")

    async def watch(self, *names: Any) -> bool:
        if self.explicit_transaction:
            raise RedisError("Cannot issue a WATCH after a MULTI")
        return await self.execute_command("WATCH", *names)

    async def unwatch(self) -> bool:
        return self.watching and await self.execute_command("UNWATCH") or True


class PubSub:
    """``redis.asyncio`` PubSub: ``await p.subscribe(...)``, ``await
    p.get_message(timeout=...)``, ``async for m in p.listen()``, ``await
    p.run()``. Handlers may be coroutine functions."""

    PUBLISH_MESSAGE_TYPES = ("message", "pmessage", "smessage")
    UNSUBSCRIBE_MESSAGE_TYPES = ("unsubscribe", "punsubscribe", "sunsubscribe")

    def __init__(self, redis: Redis, ignore_subscribe_messages: bool = False, **kwargs: Any) -> None:
        self._redis = redis
        self._sub: Optional[_emberkv.Subscription] = None
        self.ignore_subscribe_messages = ignore_subscribe_messages
        self.encoder = redis.get_encoder()
        self._reset_state()

    def _reset_state(self) -> None:
        self.channels: Dict[Any, Any] = {}
        self.pending_unsubscribe_channels: set[Any] = set()
        self.patterns: Dict[Any, Any] = {}
        self.pending_unsubscribe_patterns: set[Any] = set()
        self.shard_channels: Dict[Any, Any] = {}
        self.pending_unsubscribe_shard_channels: set[Any] = set()

    async def __aenter__(self) -> "PubSub":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.aclose()

    def __del__(self) -> None:
        if self._sub is not None:
            try:
                self._sub.close()
            except Exception:
                pass

    async def aclose(self) -> None:
        sub, self._sub = self._sub, None
        if sub is not None:
            sub.close()
        self._reset_state()

    async def reset(self) -> None:
        await self.aclose()

    close = aclose

    @property
    def subscribed(self) -> bool:
        return bool(self.channels or self.patterns or self.shard_channels)

    def _native(self) -> _emberkv.Subscription:
        s = self._sub
        if s is None:
            s = self._sub = self._redis._conn.subscription()
        return s

    def _normalize_keys(self, data: Mapping[Any, Any]) -> Dict[Any, Any]:
        encode = self.encoder.encode
        decode = self.encoder.decode
        return {decode(encode(k)): v for k, v in data.items()}

    async def execute_command(self, *args: Any) -> None:
        name = args[0].upper() if isinstance(args[0], str) else args[0].decode().upper()
        fn = {
            "SUBSCRIBE": "subscribe", "PSUBSCRIBE": "psubscribe", "SSUBSCRIBE": "ssubscribe",
            "UNSUBSCRIBE": "unsubscribe", "PUNSUBSCRIBE": "punsubscribe", "SUNSUBSCRIBE": "sunsubscribe",
        }.get(name)
        if fn is None:
            raise PubSubError(f"{name} is not available on an emberkv subscription")
        getattr(self._native(), fn)(*args[1:])

    def _subscribe(self, kind: str, registry: Dict[Any, Any], pending: set[Any], args: Tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
        new: Dict[Any, Any] = {}
        for a in list_or_args(args[0], args[1:]) if args else []:
            new[a] = None
        new.update(kwargs)
        getattr(self._native(), kind)(*new.keys())
        new = self._normalize_keys(new)
        registry.update(new)
        pending.difference_update(new)

    def _unsubscribe(self, kind: str, registry: Dict[Any, Any], pending: set[Any], args: Tuple[Any, ...]) -> None:
        if args:
            names = list_or_args(args[0], args[1:])
            pending.update(self._normalize_keys(dict.fromkeys(names)))
        else:
            names = []
            pending.update(registry)
        if self._sub is not None:
            getattr(self._sub, kind)(*names)

    async def subscribe(self, *args: Any, **kwargs: Any) -> None:
        self._subscribe("subscribe", self.channels, self.pending_unsubscribe_channels, args, kwargs)

    async def psubscribe(self, *args: Any, **kwargs: Any) -> None:
        self._subscribe("psubscribe", self.patterns, self.pending_unsubscribe_patterns, args, kwargs)

    async def ssubscribe(self, *args: Any, **kwargs: Any) -> None:
        self._subscribe("ssubscribe", self.shard_channels, self.pending_unsubscribe_shard_channels, args, kwargs)

    async def unsubscribe(self, *args: Any) -> None:
        self._unsubscribe("unsubscribe", self.channels, self.pending_unsubscribe_channels, args)

    async def punsubscribe(self, *args: Any) -> None:
        self._unsubscribe("punsubscribe", self.patterns, self.pending_unsubscribe_patterns, args)

    async def sunsubscribe(self, *args: Any) -> None:
        self._unsubscribe("sunsubscribe", self.shard_channels, self.pending_unsubscribe_shard_channels, args)

    async def _next(self, timeout: Optional[float]) -> Optional[Dict[str, Any]]:
        sub = self._sub
        if sub is None:
            return None
        m = sub.try_get()
        if m is not None or timeout == 0:
            return m
        loop = asyncio.get_running_loop()
        fut: "asyncio.Future[None]" = loop.create_future()

        def waker() -> None:
            try:
                loop.call_soon_threadsafe(_resolve, fut, None, False)
            except RuntimeError:
                pass

        if sub.wait_async(waker):
            try:
                await asyncio.wait_for(fut, timeout)
            except asyncio.TimeoutError:
                return None
        return sub.try_get()

    async def get_message(self, ignore_subscribe_messages: bool = False, timeout: Optional[float] = 0.0) -> Optional[Dict[str, Any]]:
        """The next message or None; waits up to ``timeout`` seconds (None:
        until one arrives) without blocking the event loop."""
        m = await self._next(timeout)
        if m is None:
            return None
        return await self.handle_message(m, ignore_subscribe_messages)

    async def listen(self) -> AsyncIterator[Dict[str, Any]]:
        while self.subscribed:
            m = await self._next(None)
            if m is None:
                continue
            response = await self.handle_message(m)
            if response is not None:
                yield response

    async def handle_message(self, message: Dict[str, Any], ignore_subscribe_messages: bool = False) -> Optional[Dict[str, Any]]:
        message_type = message["type"]
        if message_type in self.UNSUBSCRIBE_MESSAGE_TYPES:
            name = message["channel"]
            if message_type == "punsubscribe":
                if name in self.pending_unsubscribe_patterns:
                    self.pending_unsubscribe_patterns.remove(name)
                    self.patterns.pop(name, None)
            elif message_type == "sunsubscribe":
                if name in self.pending_unsubscribe_shard_channels:
                    self.pending_unsubscribe_shard_channels.remove(name)
                    self.shard_channels.pop(name, None)
            elif name in self.pending_unsubscribe_channels:
                self.pending_unsubscribe_channels.remove(name)
                self.channels.pop(name, None)
        if message_type in self.PUBLISH_MESSAGE_TYPES:
            if message_type == "pmessage":
                handler = self.patterns.get(message["pattern"], None)
            elif message_type == "smessage":
                handler = self.shard_channels.get(message["channel"], None)
            else:
                handler = self.channels.get(message["channel"], None)
            if handler:
                if inspect.iscoroutinefunction(handler):
                    await handler(message)
                else:
                    handler(message)
                return None
        elif ignore_subscribe_messages or self.ignore_subscribe_messages:
            return None
        return message

    async def run(self, *, exception_handler: Optional[Callable[..., Any]] = None, poll_timeout: float = 1.0) -> None:
        """Runs handlers for every message until cancelled (redis-py's ``run``)."""
        for channel, handler in self.channels.items():
            if handler is None:
                raise PubSubError(f"Channel: '{channel}' has no handler registered")
        for pattern, handler in self.patterns.items():
            if handler is None:
                raise PubSubError(f"Pattern: '{pattern}' has no handler registered")
        while True:
            try:
                await self.get_message(ignore_subscribe_messages=True, timeout=None)
            except asyncio.CancelledError:
                raise
            except (ConnectionError, DatabaseClosedError):
                if self._sub is None:
                    return
                raise
            except BaseException as e:
                if exception_handler is None:
                    raise
                res = exception_handler(e, self)
                if inspect.isawaitable(res):
                    await res


_ = (Awaitable, ConnectionError)
