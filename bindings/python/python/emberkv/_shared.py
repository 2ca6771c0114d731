"""What the blocking client (``emberkv.client``) and the asyncio client
(``emberkv.asyncio.client``) share: the parts of ``Pipeline`` and ``PubSub``
that do no waiting. Each client adds the methods that run commands or wait
(plain functions in one, coroutines in the other) on top of these."""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

from . import _emberkv
from ._callbacks import EMPTY_RESPONSE
from ._commands import list_or_args
from .exceptions import ConnectionError, ExecAbortError, PubSubError, RedisError, ResponseError, WatchError

Commands = List[Tuple[Tuple[Any, ...], Dict[str, Any]]]


def apply_callback(callbacks: Mapping[Any, Callable[..., Any]], name: Any, response: Any, options: Dict[str, Any]) -> Any:
    """Runs redis-py's response callback for command ``name`` (looked up as
    given, then upper-cased) on ``response``."""
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


def annotate(exception: BaseException, number: int, command: Tuple[Any, ...]) -> None:
    """Adds redis-py's "Command # n (…) of pipeline caused error" text."""
    cmd = " ".join(map(_safe_str, command))
    if len(cmd) > 100:
        cmd = cmd[:97] + "..."
    msg = f"Command # {number} ({cmd}) of pipeline caused error: {exception.args[0]}"
    exception.args = (msg,) + exception.args[1:]


def _safe_str(value: Any) -> str:
    try:
        return str(value.decode("utf-8", errors="ignore") if isinstance(value, bytes) else value)
    except Exception:
        return repr(value)


class PipelineCore:
    """A pipeline's buffer, WATCH state and reply handling. The client's
    ``Pipeline`` sets ``_redis`` and calls ``_setup`` first."""

    UNWATCH_COMMANDS = {"DISCARD", "EXEC", "UNWATCH"}

    _redis: Any

    def _setup(self, redis: Any) -> None:
        self._redis = redis
        self._session: Optional[_emberkv.Session] = None
        self.response_callbacks = redis.response_callbacks
        self.watching = False
        self.explicit_transaction = False
        self.command_stack: Commands = []

    def _sess(self) -> _emberkv.Session:
        s = self._session
        if s is None:
            s = self._session = self._redis._conn.session()
        return s

    def _close_session(self) -> None:
        try:
            if self._session is not None:
                self._session.close()
        except Exception:
            pass

    def _clear(self) -> None:
        """Forgets the buffered commands and the WATCH (UNWATCHing it)."""
        self.command_stack = []
        if self.watching and self._session is not None:
            try:
                self._session.execute("UNWATCH")
            except ConnectionError:
                pass
        self.watching = False
        self.explicit_transaction = False

    def __len__(self) -> int:
        return len(self.command_stack)

    def __bool__(self) -> bool:
        return True

    def multi(self) -> None:
        """Starts the transactional block after WATCH commands."""
        if self.explicit_transaction:
            raise RedisError("Cannot issue nested calls to MULTI")
        if self.command_stack:
            raise RedisError("Commands without an initial WATCH have already been issued")
        self.explicit_transaction = True

    def execute_command(self, *args: Any, **kwargs: Any) -> Any:
        if (self.watching or args[0] == "WATCH") and not self.explicit_transaction:
            return self.immediate_execute_command(*args, **kwargs)  # type: ignore[attr-defined]
        return self.pipeline_execute_command(*args, **kwargs)

    def pipeline_execute_command(self, *args: Any, **options: Any) -> Any:
        self.command_stack.append((args, options))
        return self

    def _check_watch(self) -> None:
        if self.explicit_transaction:
            raise RedisError("Cannot issue a WATCH after a MULTI")

    def _immediate_reply(self, name: Any, response: Any, options: Dict[str, Any]) -> Any:
        """A command run right away (while WATCHing) answered ``response``."""
        self._note_watch(name)
        return apply_callback(self.response_callbacks, name, response, options)

    @staticmethod
    def _watch_lost(e: ConnectionError) -> WatchError:
        return WatchError(f"A {type(e).__name__} occurred while watching one or more keys")

    def _note_watch(self, name: Any) -> None:
        if name in self.UNWATCH_COMMANDS:
            self.watching = False
        elif name == "WATCH":
            self.watching = True

    @staticmethod
    def _transaction_argv(commands: Commands) -> List[Tuple[Any, ...]]:
        sent = [args for args, options in commands if EMPTY_RESPONSE not in options]
        return [("MULTI",), *sent, ("EXEC",)]

    def _transaction_result(self, commands: Commands, replies: List[Any], raise_on_error: bool) -> List[Any]:
        """The results of ``commands`` from the replies to MULTI, each queued
        command and EXEC, as redis-py gives them (or raises)."""
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
                annotate(r, i + 1, args)
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
                r = apply_callback(self.response_callbacks, args[0], r, dict(options))
            data.append(r)
        return data

    def _pipeline_result(self, commands: Commands, replies: List[Any], raise_on_error: bool) -> List[Any]:
        """The results of ``commands`` run without MULTI."""
        out = []
        for r, (args, options) in zip(replies, commands):
            if isinstance(r, ResponseError):
                if EMPTY_RESPONSE in options:
                    r = options[EMPTY_RESPONSE]
                out.append(r)
                continue
            self._note_watch(args[0])
            out.append(apply_callback(self.response_callbacks, args[0], r, dict(options)))
        if raise_on_error:
            self.raise_first_error(commands, out)
        return out

    def raise_first_error(self, commands: Commands, response: List[Any]) -> None:
        for i, r in enumerate(response):
            if isinstance(r, ResponseError):
                annotate(r, i + 1, commands[i][0])
                raise r

    def annotate_exception(self, exception: BaseException, number: int, command: Tuple[Any, ...]) -> None:
        annotate(exception, number, command)


class PubSubCore:
    """A subscription's registries (channel → handler), its commands and the
    routing of each message. The client's ``PubSub`` calls ``_setup``."""

    PUBLISH_MESSAGE_TYPES = ("message", "pmessage", "smessage")
    UNSUBSCRIBE_MESSAGE_TYPES = ("unsubscribe", "punsubscribe", "sunsubscribe")

    _sub: Optional[_emberkv.Subscription]

    def _setup(self, redis: Any, ignore_subscribe_messages: bool) -> None:
        self._redis = redis
        self._sub = None
        self.ignore_subscribe_messages = ignore_subscribe_messages
        self.encoder = redis.get_encoder()
        self._clear_registries()

    def _clear_registries(self) -> None:
        self.channels: Dict[Any, Any] = {}
        self.pending_unsubscribe_channels: set[Any] = set()
        self.patterns: Dict[Any, Any] = {}
        self.pending_unsubscribe_patterns: set[Any] = set()
        self.shard_channels: Dict[Any, Any] = {}
        self.pending_unsubscribe_shard_channels: set[Any] = set()

    def _close_native(self) -> None:
        sub, self._sub = getattr(self, "_sub", None), None
        if sub is not None:
            sub.close()

    def _native(self) -> _emberkv.Subscription:
        s = self._sub
        if s is None:
            s = self._sub = self._redis._conn.subscription()
        return s

    def _send(self, args: Tuple[Any, ...]) -> None:
        """Sends a (P|S)(UN)SUBSCRIBE command (redis-py's execute_command)."""
        name = args[0].upper() if isinstance(args[0], str) else args[0].decode().upper()
        fn = {
            "SUBSCRIBE": "subscribe", "PSUBSCRIBE": "psubscribe", "SSUBSCRIBE": "ssubscribe",
            "UNSUBSCRIBE": "unsubscribe", "PUNSUBSCRIBE": "punsubscribe", "SUNSUBSCRIBE": "sunsubscribe",
        }.get(name)
        if fn is None:
            raise PubSubError(f"{name} is not available on an emberkv subscription")
        getattr(self._native(), fn)(*args[1:])

    def _normalize_keys(self, data: Mapping[Any, Any]) -> Dict[Any, Any]:
        encode = self.encoder.encode
        decode = self.encoder.decode
        return {decode(encode(k)): v for k, v in data.items()}

    def _on_subscribed(self) -> None:
        """Called after a subscribe; the blocking client sets its event."""

    def _on_unsubscribed(self) -> None:
        """Called after an unsubscribe confirmation was booked."""

    def _subscribe(self, kind: str, registry: Dict[Any, Any], pending: set[Any], args: Tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
        new: Dict[Any, Any] = {}
        for a in list_or_args(args[0], args[1:]) if args else []:
            new[a] = None
        new.update(kwargs)
        getattr(self._native(), kind)(*new.keys())
        new = self._normalize_keys(new)
        registry.update(new)
        self._on_subscribed()
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

    def _route(self, response: Any, ignore_subscribe_messages: bool) -> Tuple[Optional[Callable[..., Any]], Optional[Dict[str, Any]]]:
        """Shapes a message (a dict from the engine, or redis-py's list
        form) and keeps the subscription bookkeeping. Returns (handler,
        message): the handler to call with the message if its channel has
        one, else (None, the message to return) or (None, None) when the
        message is to be dropped."""
        if isinstance(response, dict):
            message = response
        else:
            kind = response[0].decode() if isinstance(response[0], bytes) else response[0]
            if kind == "pmessage":
                message = {"type": kind, "pattern": response[1], "channel": response[2], "data": response[3]}
            else:
                message = {"type": kind, "pattern": None, "channel": response[1], "data": response[2]}
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
            self._on_unsubscribed()
        if message_type in self.PUBLISH_MESSAGE_TYPES:
            if message_type == "pmessage":
                handler = self.patterns.get(message["pattern"], None)
            elif message_type == "smessage":
                handler = self.shard_channels.get(message["channel"], None)
            else:
                handler = self.channels.get(message["channel"], None)
            if handler:
                return handler, message
        elif ignore_subscribe_messages or self.ignore_subscribe_messages:
            return None, None
        return None, message

    def _check_handlers(self, shard: bool) -> None:
        """Every subscription has a handler (before running them on their own)."""
        for channel, handler in self.channels.items():
            if handler is None:
                raise PubSubError(f"Channel: '{channel}' has no handler registered")
        for pattern, handler in self.patterns.items():
            if handler is None:
                raise PubSubError(f"Pattern: '{pattern}' has no handler registered")
        if shard:
            for s_channel, handler in self.shard_channels.items():
                if handler is None:
                    raise PubSubError(f"Shard Channel: '{s_channel}' has no handler registered")
