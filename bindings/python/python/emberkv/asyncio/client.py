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
from typing import Any, AsyncIterator, Awaitable, Callable, Dict, List, Optional, Tuple, Union

from .. import _emberkv
from .._callbacks import EMPTY_RESPONSE, RESPONSE_CALLBACKS
from .._commands import AsyncScanCommands, CoreCommands
from .._shared import Commands, PipelineCore, PubSubCore, apply_callback
from ..client import _Encoder, _is_remote_url, _listen, _parse_url, _remote_args, open_database
from ..exceptions import ConnectionError, DatabaseClosedError, RedisError, ResponseError, WatchError

__all__ = ["Redis", "StrictRedis", "Pipeline", "PubSub"]


def _resolve(fut: "asyncio.Future[Any]", value: Any, is_error: bool) -> None:
    if fut.done():
        return
    if is_error:
        fut.set_exception(value)
    else:
        fut.set_result(value)


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
        return apply_callback(self.response_callbacks, args[0], response, options)

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


class Pipeline(PipelineCore, CoreCommands):
    """``redis.asyncio`` pipeline: command methods buffer (and return the
    pipeline); ``await pipe.execute()`` runs them; after ``await
    pipe.watch(...)`` commands run immediately (await them) until
    ``pipe.multi()``."""

    def __init__(self, redis: Redis, transaction: bool = True) -> None:
        self._setup(redis)
        self.is_transaction = transaction

    async def __aenter__(self) -> "Pipeline":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.reset()

    def __await__(self) -> Any:
        async def _self() -> "Pipeline":
            return self

        return _self().__await__()

    def __del__(self) -> None:
        self._close_session()

    async def reset(self) -> None:
        self._clear()

    async def aclose(self) -> None:
        await self.reset()

    async def immediate_execute_command(self, *args: Any, **options: Any) -> Any:
        try:
            if self._redis._is_blocking(args[0]):
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
                raise self._watch_lost(e) from e
            raise
        return self._immediate_reply(args[0], response, options)

    async def _run_many(self, cmds: List[Tuple[Any, ...]], may_block: bool) -> List[Any]:
        sess = self._sess()
        if may_block:
            # a blocking command outside MULTI waits: not on the event loop
            return await asyncio.get_running_loop().run_in_executor(None, sess.execute_many, cmds)
        return sess.execute_many(cmds)

    async def _execute_transaction(self, commands: Commands, raise_on_error: bool) -> List[Any]:
        replies = await self._run_many(self._transaction_argv(commands), False)
        return self._transaction_result(commands, replies, raise_on_error)

    async def _execute_pipeline(self, commands: Commands, raise_on_error: bool) -> List[Any]:
        may_block = any(self._redis._is_blocking(args[0]) for args, _ in commands)
        replies = await self._run_many([args for args, _ in commands], may_block)
        return self._pipeline_result(commands, replies, raise_on_error)

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
        self._check_watch()
        return await self.execute_command("WATCH", *names)

    async def unwatch(self) -> bool:
        return self.watching and await self.execute_command("UNWATCH") or True


class PubSub(PubSubCore):
    """``redis.asyncio`` PubSub: ``await p.subscribe(...)``, ``await
    p.get_message(timeout=...)``, ``async for m in p.listen()``, ``await
    p.run()``. Handlers may be coroutine functions."""

    def __init__(self, redis: Redis, ignore_subscribe_messages: bool = False, **kwargs: Any) -> None:
        self._setup(redis, ignore_subscribe_messages)

    async def __aenter__(self) -> "PubSub":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.aclose()

    def __del__(self) -> None:
        try:
            self._close_native()
        except Exception:
            pass

    async def aclose(self) -> None:
        self._close_native()
        self._clear_registries()

    async def reset(self) -> None:
        await self.aclose()

    close = aclose

    @property
    def subscribed(self) -> bool:
        return bool(self.channels or self.patterns or self.shard_channels)

    async def execute_command(self, *args: Any) -> None:
        self._send(args)

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
        handler, shaped = self._route(message, ignore_subscribe_messages)
        if handler is not None:
            if inspect.iscoroutinefunction(handler):
                await handler(shaped)
            else:
                handler(shaped)
            return None
        return shaped

    async def run(self, *, exception_handler: Optional[Callable[..., Any]] = None, poll_timeout: float = 1.0) -> None:
        """Runs handlers for every message until cancelled (redis-py's ``run``)."""
        self._check_handlers(shard=False)
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
