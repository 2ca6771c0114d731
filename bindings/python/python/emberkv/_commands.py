"""redis-py's command methods, over one ``execute_command``.

Method names, parameters, argument order and options follow redis-py's
``redis/commands/core.py`` (MIT licensed), so porting is an import change.
Every method builds argv and returns ``self.execute_command(...)``: the sync
client runs it, the asyncio client returns an awaitable, a pipeline buffers
it. Response shaping is the callback table in ``_callbacks.py``.

Return annotations are the sync client's; ``tools/gen_stubs.py`` turns them
into the stubs of the sync, asyncio and pipeline classes.
"""

from __future__ import annotations

import datetime
import warnings
from typing import Any, Callable, Dict, Iterable, Iterator, List, Mapping, Optional, Sequence, Set, Tuple, Union

from ._callbacks import EMPTY_RESPONSE
from ._types import (
    AbsExpiryT,
    ChannelT,
    EncodableT,
    ExpiryT,
    FieldT,
    KeysT,
    KeyT,
    Number,
    PatternT,
    ScoreCastT,
    StrT,
    TimeoutSecT,
    ZScoreBoundT,
)
from .exceptions import DataError, RedisError

__all__ = ["CoreCommands", "AsyncScanCommands", "BitFieldOperation", "list_or_args"]


def list_or_args(keys: Any, args: Optional[Iterable[Any]]) -> List[Any]:
    """``keys`` as a new list (a single key or an iterable of keys) + ``args``."""
    try:
        iter(keys)
        if isinstance(keys, (bytes, str, bytearray, memoryview)):
            keys = [keys]
        else:
            keys = list(keys)
    except TypeError:
        keys = [keys]
    if args:
        keys.extend(args)
    return keys


def _at_most_one(flags: Iterable[Any]) -> bool:
    return sum(1 for f in flags if f) <= 1


def _expire_flags(ex: Any = None, px: Any = None, exat: Any = None, pxat: Any = None) -> List[EncodableT]:
    out: List[EncodableT] = []
    if ex is not None:
        out.append("EX")
        if isinstance(ex, datetime.timedelta):
            out.append(int(ex.total_seconds()))
        elif isinstance(ex, int):
            out.append(ex)
        elif isinstance(ex, str) and ex.isdigit():
            out.append(int(ex))
        else:
            raise DataError("ex must be datetime.timedelta or int")
    elif px is not None:
        out.append("PX")
        if isinstance(px, datetime.timedelta):
            out.append(int(px.total_seconds() * 1000))
        elif isinstance(px, int):
            out.append(px)
        else:
            raise DataError("px must be datetime.timedelta or int")
    elif exat is not None:
        if isinstance(exat, datetime.datetime):
            exat = int(exat.timestamp())
        out.extend(["EXAT", exat])
    elif pxat is not None:
        if isinstance(pxat, datetime.datetime):
            pxat = int(pxat.timestamp() * 1000)
        out.extend(["PXAT", pxat])
    return out


def _cond_flags(nx: bool, xx: bool, gt: bool, lt: bool) -> List[str]:
    out = []
    if nx:
        out.append("NX")
    if xx:
        out.append("XX")
    if gt:
        out.append("GT")
    if lt:
        out.append("LT")
    return out


class BitFieldOperation:
    """Builder for BITFIELD (``r.bitfield(key).incrby(...).get(...).execute()``)."""

    def __init__(self, client: Any, key: KeyT, default_overflow: Optional[str] = None) -> None:
        self.client = client
        self.key = key
        self._default_overflow = default_overflow
        self.operations: List[Tuple[EncodableT, ...]] = []
        self._last_overflow = "WRAP"
        self.reset()

    def reset(self) -> None:
        self.operations = []
        self._last_overflow = "WRAP"
        self.overflow(self._default_overflow or self._last_overflow)

    def overflow(self, overflow: str) -> "BitFieldOperation":
        overflow = overflow.upper()
        if overflow != self._last_overflow:
            self._last_overflow = overflow
            self.operations.append(("OVERFLOW", overflow))
        return self

    def incrby(self, fmt: str, offset: Union[int, str], increment: int, overflow: Optional[str] = None) -> "BitFieldOperation":
        if overflow is not None:
            self.overflow(overflow)
        self.operations.append(("INCRBY", fmt, offset, increment))
        return self

    def get(self, fmt: str, offset: Union[int, str]) -> "BitFieldOperation":
        self.operations.append(("GET", fmt, offset))
        return self

    def set(self, fmt: str, offset: Union[int, str], value: int) -> "BitFieldOperation":
        self.operations.append(("SET", fmt, offset, value))
        return self

    @property
    def command(self) -> List[EncodableT]:
        cmd: List[EncodableT] = ["BITFIELD", self.key]
        for ops in self.operations:
            cmd.extend(ops)
        return cmd

    def execute(self) -> Any:
        command = self.command
        self.reset()
        return self.client.execute_command(*command)


class CoreCommands:
    """Every command family emberkv's engine serves (and the ones landing)."""

    execute_command: Callable[..., Any]

    # ---- server / connection ------------------------------------------------

    def bgrewriteaof(self, **kwargs: Any) -> bool:
        return self.execute_command("BGREWRITEAOF", **kwargs)

    def bgsave(self, schedule: bool = True, **kwargs: Any) -> bool:
        pieces = []
        if schedule:
            pieces.append("SCHEDULE")
        return self.execute_command("BGSAVE", *pieces, **kwargs)

    def client_kill(self, address: str, **kwargs: Any) -> Union[bool, int]:
        return self.execute_command("CLIENT KILL", address, **kwargs)

    def client_info(self, **kwargs: Any) -> Dict[str, Union[str, int]]:
        return self.execute_command("CLIENT INFO", **kwargs)

    def client_list(self, _type: Optional[str] = None, client_id: List[EncodableT] = [], **kwargs: Any) -> List[Dict[str, str]]:
        args: List[EncodableT] = []
        if _type is not None:
            client_types = ("normal", "master", "replica", "pubsub")
            if str(_type).lower() not in client_types:
                raise DataError(f"CLIENT LIST _type must be one of {client_types!r}")
            args.append(b"TYPE")
            args.append(_type)
        if not isinstance(client_id, list):
            raise DataError("client_id must be a list")
        if client_id:
            args.append(b"ID")
            args += client_id
        return self.execute_command("CLIENT LIST", *args, **kwargs)

    def client_getname(self, **kwargs: Any) -> Optional[str]:
        return self.execute_command("CLIENT GETNAME", **kwargs)

    def client_id(self, **kwargs: Any) -> int:
        return self.execute_command("CLIENT ID", **kwargs)

    def client_setname(self, name: str, **kwargs: Any) -> bool:
        return self.execute_command("CLIENT SETNAME", name, **kwargs)

    def client_setinfo(self, attr: str, value: str, **kwargs: Any) -> bool:
        return self.execute_command("CLIENT SETINFO", attr, value, **kwargs)

    def client_unblock(self, client_id: int, error: bool = False, **kwargs: Any) -> bool:
        args: List[EncodableT] = ["CLIENT UNBLOCK", int(client_id)]
        if error:
            args.append(b"ERROR")
        return self.execute_command(*args, **kwargs)

    def command(self, **kwargs: Any) -> Dict[str, Dict[str, Any]]:
        return self.execute_command("COMMAND", **kwargs)

    def command_count(self, **kwargs: Any) -> int:
        return self.execute_command("COMMAND COUNT", **kwargs)

    def command_list(self, module: Optional[str] = None, category: Optional[str] = None, pattern: Optional[str] = None) -> List[StrT]:
        pieces: List[EncodableT] = []
        if module is not None:
            pieces.extend(["MODULE", module])
        if category is not None:
            pieces.extend(["ACLCAT", category])
        if pattern is not None:
            pieces.extend(["PATTERN", pattern])
        if pieces:
            pieces.insert(0, "FILTERBY")
        return self.execute_command("COMMAND LIST", *pieces)

    def command_getkeys(self, *args: EncodableT) -> List[str]:
        return self.execute_command("COMMAND GETKEYS", *args)

    def config_get(self, pattern: PatternT = "*", *args: PatternT, **kwargs: Any) -> Dict[Optional[str], Optional[str]]:
        return self.execute_command("CONFIG GET", pattern, *args, **kwargs)

    def config_set(self, name: KeyT, value: EncodableT, *args: EncodableT, **kwargs: Any) -> bool:
        return self.execute_command("CONFIG SET", name, value, *args, **kwargs)

    def config_resetstat(self, **kwargs: Any) -> bool:
        return self.execute_command("CONFIG RESETSTAT", **kwargs)

    def config_rewrite(self, **kwargs: Any) -> StrT:
        return self.execute_command("CONFIG REWRITE", **kwargs)

    def dbsize(self, **kwargs: Any) -> int:
        return self.execute_command("DBSIZE", **kwargs)

    def debug_object(self, key: KeyT, **kwargs: Any) -> Dict[str, Any]:
        return self.execute_command("DEBUG OBJECT", key, **kwargs)

    def echo(self, value: EncodableT, **kwargs: Any) -> StrT:
        return self.execute_command("ECHO", value, **kwargs)

    def flushall(self, asynchronous: bool = False, **kwargs: Any) -> bool:
        args = []
        if asynchronous:
            args.append(b"ASYNC")
        return self.execute_command("FLUSHALL", *args, **kwargs)

    def flushdb(self, asynchronous: bool = False, **kwargs: Any) -> bool:
        args = []
        if asynchronous:
            args.append(b"ASYNC")
        return self.execute_command("FLUSHDB", *args, **kwargs)

    def swapdb(self, first: int, second: int, **kwargs: Any) -> bool:
        return self.execute_command("SWAPDB", first, second, **kwargs)

    def select(self, index: int, **kwargs: Any) -> bool:
        return self.execute_command("SELECT", index, **kwargs)

    def info(self, section: Optional[str] = None, *args: str, **kwargs: Any) -> Dict[str, Any]:
        if section is None:
            return self.execute_command("INFO", **kwargs)
        return self.execute_command("INFO", section, *args, **kwargs)

    def lastsave(self, **kwargs: Any) -> Optional[datetime.datetime]:
        return self.execute_command("LASTSAVE", **kwargs)

    def lolwut(self, *version_numbers: Union[str, float], **kwargs: Any) -> StrT:
        if version_numbers:
            return self.execute_command("LOLWUT VERSION", *version_numbers, **kwargs)
        return self.execute_command("LOLWUT", **kwargs)

    def object(self, infotype: str, key: KeyT, **kwargs: Any) -> Any:
        return self.execute_command("OBJECT", infotype, key, infotype=infotype, **kwargs)

    def memory_usage(self, key: KeyT, samples: Optional[int] = None, **kwargs: Any) -> Optional[int]:
        args: List[EncodableT] = []
        if isinstance(samples, int):
            args.extend([b"SAMPLES", samples])
        return self.execute_command("MEMORY USAGE", key, *args, **kwargs)

    def ping(self, **kwargs: Any) -> bool:
        return self.execute_command("PING", **kwargs)

    def save(self, **kwargs: Any) -> bool:
        return self.execute_command("SAVE", **kwargs)

    def time(self, **kwargs: Any) -> Tuple[int, int]:
        return self.execute_command("TIME", **kwargs)

    # ---- strings and bitmaps --------------------------------------------------

    def append(self, key: KeyT, value: EncodableT) -> int:
        return self.execute_command("APPEND", key, value)

    def bitcount(self, key: KeyT, start: Optional[int] = None, end: Optional[int] = None, mode: Optional[str] = None) -> int:
        params: List[EncodableT] = [key]
        if start is not None and end is not None:
            params.append(start)
            params.append(end)
        elif (start is not None and end is None) or (end is not None and start is None):
            raise DataError("Both start and end must be specified")
        if mode is not None:
            params.append(mode)
        return self.execute_command("BITCOUNT", *params, keys=[key])

    def bitfield(self, key: KeyT, default_overflow: Optional[str] = None) -> BitFieldOperation:
        return BitFieldOperation(self, key, default_overflow=default_overflow)

    def bitfield_ro(self, key: KeyT, encoding: str, offset: Union[int, str], items: Optional[List[Tuple[str, Union[int, str]]]] = None) -> List[int]:
        params: List[EncodableT] = [key, "GET", encoding, offset]
        for enc, off in items or []:
            params.extend(["GET", enc, off])
        return self.execute_command("BITFIELD_RO", *params, keys=[key])

    def bitop(self, operation: str, dest: KeyT, *keys: KeyT) -> int:
        return self.execute_command("BITOP", operation, dest, *keys)

    def bitpos(self, key: KeyT, bit: int, start: Optional[int] = None, end: Optional[int] = None, mode: Optional[str] = None) -> int:
        if bit not in (0, 1):
            raise DataError("bit must be 0 or 1")
        params: List[EncodableT] = [key, bit]
        if start is not None:
            params.append(start)
        if start is not None and end is not None:
            params.append(end)
        elif start is None and end is not None:
            raise DataError("start argument is not set, when end is specified")
        if mode is not None:
            params.append(mode)
        return self.execute_command("BITPOS", *params, keys=[key])

    def decrby(self, name: KeyT, amount: int = 1) -> int:
        return self.execute_command("DECRBY", name, amount)

    decr = decrby

    def get(self, name: KeyT) -> Optional[StrT]:
        return self.execute_command("GET", name, keys=[name])

    def getdel(self, name: KeyT) -> Optional[StrT]:
        return self.execute_command("GETDEL", name)

    def getex(self, name: KeyT, ex: Optional[ExpiryT] = None, px: Optional[ExpiryT] = None, exat: Optional[AbsExpiryT] = None, pxat: Optional[AbsExpiryT] = None, persist: bool = False) -> Optional[StrT]:
        if not _at_most_one((ex is not None, px is not None, exat is not None, pxat is not None, persist)):
            raise DataError("``ex``, ``px``, ``exat``, ``pxat``, and ``persist`` are mutually exclusive.")
        opts = _expire_flags(ex, px, exat, pxat)
        if persist:
            opts.append("PERSIST")
        return self.execute_command("GETEX", name, *opts)

    def getbit(self, name: KeyT, offset: int) -> int:
        return self.execute_command("GETBIT", name, offset, keys=[name])

    def getrange(self, key: KeyT, start: int, end: int) -> StrT:
        return self.execute_command("GETRANGE", key, start, end, keys=[key])

    def getset(self, name: KeyT, value: EncodableT) -> Optional[StrT]:
        return self.execute_command("GETSET", name, value)

    def incrby(self, name: KeyT, amount: int = 1) -> int:
        return self.execute_command("INCRBY", name, amount)

    incr = incrby

    def incrbyfloat(self, name: KeyT, amount: float = 1.0) -> float:
        return self.execute_command("INCRBYFLOAT", name, amount)

    def lcs(self, key1: str, key2: str, len: Optional[bool] = False, idx: Optional[bool] = False, minmatchlen: Optional[int] = 0, withmatchlen: Optional[bool] = False) -> Any:
        pieces: List[EncodableT] = [key1, key2]
        if len:
            pieces.append("LEN")
        if idx:
            pieces.append("IDX")
        if minmatchlen is not None and minmatchlen != 0:
            pieces.extend(["MINMATCHLEN", minmatchlen])
        if withmatchlen:
            pieces.append("WITHMATCHLEN")
        return self.execute_command("LCS", *pieces, keys=[key1, key2])

    def mget(self, keys: KeysT, *args: KeyT) -> List[Optional[StrT]]:
        ks = list_or_args(keys, args)
        options: Dict[str, Any] = {}
        if not ks:
            options[EMPTY_RESPONSE] = []
        options["keys"] = ks
        return self.execute_command("MGET", *ks, **options)

    def mset(self, mapping: Mapping[Any, EncodableT]) -> bool:
        items: List[EncodableT] = []
        for pair in mapping.items():
            items.extend(pair)
        return self.execute_command("MSET", *items)

    def msetnx(self, mapping: Mapping[Any, EncodableT]) -> bool:
        items: List[EncodableT] = []
        for pair in mapping.items():
            items.extend(pair)
        return self.execute_command("MSETNX", *items)

    def psetex(self, name: KeyT, time_ms: ExpiryT, value: EncodableT) -> bool:
        if isinstance(time_ms, datetime.timedelta):
            time_ms = int(time_ms.total_seconds() * 1000)
        return self.execute_command("PSETEX", name, time_ms, value)

    def set(self, name: KeyT, value: EncodableT, ex: Optional[ExpiryT] = None, px: Optional[ExpiryT] = None, nx: bool = False, xx: bool = False, keepttl: bool = False, get: bool = False, exat: Optional[AbsExpiryT] = None, pxat: Optional[AbsExpiryT] = None) -> Optional[Union[bool, StrT]]:
        if not _at_most_one((ex is not None, px is not None, exat is not None, pxat is not None, keepttl)):
            raise DataError("``ex``, ``px``, ``exat``, ``pxat``, and ``keepttl`` are mutually exclusive.")
        if nx and xx:
            raise DataError("``nx`` and ``xx`` are mutually exclusive.")
        pieces: List[EncodableT] = [name, value]
        options = {}
        if nx:
            pieces.append("NX")
        elif xx:
            pieces.append("XX")
        if get:
            pieces.append("GET")
            options["get"] = True
        pieces.extend(_expire_flags(ex, px, exat, pxat))
        if keepttl:
            pieces.append("KEEPTTL")
        return self.execute_command("SET", *pieces, **options)

    def setbit(self, name: KeyT, offset: int, value: int) -> int:
        value = value and 1 or 0
        return self.execute_command("SETBIT", name, offset, value)

    def setex(self, name: KeyT, time: ExpiryT, value: EncodableT) -> bool:
        if isinstance(time, datetime.timedelta):
            time = int(time.total_seconds())
        return self.execute_command("SETEX", name, time, value)

    def setnx(self, name: KeyT, value: EncodableT) -> bool:
        return self.execute_command("SETNX", name, value)

    def setrange(self, name: KeyT, offset: int, value: EncodableT) -> int:
        return self.execute_command("SETRANGE", name, offset, value)

    def strlen(self, name: KeyT) -> int:
        return self.execute_command("STRLEN", name, keys=[name])

    def substr(self, name: KeyT, start: int, end: int = -1) -> StrT:
        return self.execute_command("SUBSTR", name, start, end, keys=[name])

    # ---- keys -----------------------------------------------------------------

    def copy(self, source: str, destination: str, destination_db: Optional[str] = None, replace: bool = False) -> bool:
        params: List[EncodableT] = [source, destination]
        if destination_db is not None:
            params.extend(["DB", destination_db])
        if replace:
            params.append("REPLACE")
        return self.execute_command("COPY", *params)

    def delete(self, *names: KeyT) -> int:
        return self.execute_command("DEL", *names)

    def __delitem__(self, name: KeyT) -> None:
        self.delete(name)

    def exists(self, *names: KeyT) -> int:
        return self.execute_command("EXISTS", *names, keys=names)

    __contains__ = exists

    def expire(self, name: KeyT, time: ExpiryT, nx: bool = False, xx: bool = False, gt: bool = False, lt: bool = False) -> bool:
        if isinstance(time, datetime.timedelta):
            time = int(time.total_seconds())
        return self.execute_command("EXPIRE", name, time, *_cond_flags(nx, xx, gt, lt))

    def expireat(self, name: KeyT, when: AbsExpiryT, nx: bool = False, xx: bool = False, gt: bool = False, lt: bool = False) -> bool:
        if isinstance(when, datetime.datetime):
            when = int(when.timestamp())
        return self.execute_command("EXPIREAT", name, when, *_cond_flags(nx, xx, gt, lt))

    def expiretime(self, key: str) -> int:
        return self.execute_command("EXPIRETIME", key)

    def keys(self, pattern: PatternT = "*", **kwargs: Any) -> List[StrT]:
        return self.execute_command("KEYS", pattern, **kwargs)

    def move(self, name: KeyT, db: int) -> bool:
        return self.execute_command("MOVE", name, db)

    def persist(self, name: KeyT) -> bool:
        return self.execute_command("PERSIST", name)

    def pexpire(self, name: KeyT, time: ExpiryT, nx: bool = False, xx: bool = False, gt: bool = False, lt: bool = False) -> bool:
        if isinstance(time, datetime.timedelta):
            time = int(time.total_seconds() * 1000)
        return self.execute_command("PEXPIRE", name, time, *_cond_flags(nx, xx, gt, lt))

    def pexpireat(self, name: KeyT, when: AbsExpiryT, nx: bool = False, xx: bool = False, gt: bool = False, lt: bool = False) -> bool:
        if isinstance(when, datetime.datetime):
            when = int(when.timestamp() * 1000)
        return self.execute_command("PEXPIREAT", name, when, *_cond_flags(nx, xx, gt, lt))

    def pexpiretime(self, key: str) -> int:
        return self.execute_command("PEXPIRETIME", key)

    def pttl(self, name: KeyT) -> int:
        return self.execute_command("PTTL", name)

    def randomkey(self, **kwargs: Any) -> Optional[StrT]:
        return self.execute_command("RANDOMKEY", **kwargs)

    def rename(self, src: KeyT, dst: KeyT) -> bool:
        return self.execute_command("RENAME", src, dst)

    def renamenx(self, src: KeyT, dst: KeyT) -> bool:
        return self.execute_command("RENAMENX", src, dst)

    def sort(self, name: KeyT, start: Optional[int] = None, num: Optional[int] = None, by: Optional[str] = None, get: Optional[List[str]] = None, desc: bool = False, alpha: bool = False, store: Optional[str] = None, groups: Optional[bool] = False) -> Union[List[StrT], int, List[Tuple[StrT, ...]]]:
        if (start is not None and num is None) or (num is not None and start is None):
            raise DataError("``start`` and ``num`` must both be specified")
        pieces: List[EncodableT] = [name]
        if by is not None:
            pieces.extend([b"BY", by])
        if start is not None and num is not None:
            pieces.extend([b"LIMIT", start, num])
        if get is not None:
            if isinstance(get, (bytes, str)):
                pieces.extend([b"GET", get])
            else:
                for g in get:
                    pieces.extend([b"GET", g])
        if desc:
            pieces.append(b"DESC")
        if alpha:
            pieces.append(b"ALPHA")
        if store is not None:
            pieces.extend([b"STORE", store])
        if groups:
            if not get or isinstance(get, (bytes, str)) or len(get) < 2:
                raise DataError('when using "groups" the "get" argument must be specified and contain at least two keys')
        options: Dict[str, Any] = {"groups": len(get) if groups and get else None}
        options["keys"] = [name]
        return self.execute_command("SORT", *pieces, **options)

    def sort_ro(self, key: str, start: Optional[int] = None, num: Optional[int] = None, by: Optional[str] = None, get: Optional[List[str]] = None, desc: bool = False, alpha: bool = False) -> List[StrT]:
        return self.sort(key, start=start, num=num, by=by, get=get, desc=desc, alpha=alpha)  # type: ignore[return-value]

    def touch(self, *args: KeyT) -> int:
        return self.execute_command("TOUCH", *args)

    def ttl(self, name: KeyT) -> int:
        return self.execute_command("TTL", name)

    def type(self, name: KeyT) -> StrT:
        return self.execute_command("TYPE", name, keys=[name])

    def unlink(self, *names: KeyT) -> int:
        return self.execute_command("UNLINK", *names)

    # ---- scanning -------------------------------------------------------------

    def scan(self, cursor: int = 0, match: Optional[PatternT] = None, count: Optional[int] = None, _type: Optional[str] = None, **kwargs: Any) -> Tuple[int, List[StrT]]:
        pieces: List[EncodableT] = [cursor]
        if match is not None:
            pieces.extend([b"MATCH", match])
        if count is not None:
            pieces.extend([b"COUNT", count])
        if _type is not None:
            pieces.extend([b"TYPE", _type])
        return self.execute_command("SCAN", *pieces, **kwargs)

    def scan_iter(self, match: Optional[PatternT] = None, count: Optional[int] = None, _type: Optional[str] = None, **kwargs: Any) -> Iterator[StrT]:
        cursor: Any = "0"
        while cursor != 0:
            cursor, data = self.scan(cursor=cursor, match=match, count=count, _type=_type, **kwargs)
            yield from data

    def sscan(self, name: KeyT, cursor: int = 0, match: Optional[PatternT] = None, count: Optional[int] = None) -> Tuple[int, List[StrT]]:
        pieces: List[EncodableT] = [name, cursor]
        if match is not None:
            pieces.extend([b"MATCH", match])
        if count is not None:
            pieces.extend([b"COUNT", count])
        return self.execute_command("SSCAN", *pieces)

    def sscan_iter(self, name: KeyT, match: Optional[PatternT] = None, count: Optional[int] = None) -> Iterator[StrT]:
        cursor: Any = "0"
        while cursor != 0:
            cursor, data = self.sscan(name, cursor=cursor, match=match, count=count)
            yield from data

    def hscan(self, name: KeyT, cursor: int = 0, match: Optional[PatternT] = None, count: Optional[int] = None, no_values: Optional[bool] = None) -> Tuple[int, Union[Dict[StrT, StrT], List[StrT]]]:
        pieces: List[EncodableT] = [name, cursor]
        if match is not None:
            pieces.extend([b"MATCH", match])
        if count is not None:
            pieces.extend([b"COUNT", count])
        if no_values is not None:
            pieces.extend([b"NOVALUES"])
        return self.execute_command("HSCAN", *pieces, no_values=no_values)

    def hscan_iter(self, name: KeyT, match: Optional[PatternT] = None, count: Optional[int] = None, no_values: Optional[bool] = None) -> Iterator[Any]:
        cursor: Any = "0"
        while cursor != 0:
            cursor, data = self.hscan(name, cursor=cursor, match=match, count=count, no_values=no_values)
            if no_values:
                yield from data
            else:
                yield from data.items()  # type: ignore[union-attr]

    def zscan(self, name: KeyT, cursor: int = 0, match: Optional[PatternT] = None, count: Optional[int] = None, score_cast_func: ScoreCastT = float) -> Tuple[int, List[Tuple[StrT, Any]]]:
        pieces: List[EncodableT] = [name, cursor]
        if match is not None:
            pieces.extend([b"MATCH", match])
        if count is not None:
            pieces.extend([b"COUNT", count])
        return self.execute_command("ZSCAN", *pieces, score_cast_func=score_cast_func)

    def zscan_iter(self, name: KeyT, match: Optional[PatternT] = None, count: Optional[int] = None, score_cast_func: ScoreCastT = float) -> Iterator[Tuple[StrT, Any]]:
        cursor: Any = "0"
        while cursor != 0:
            cursor, data = self.zscan(name, cursor=cursor, match=match, count=count, score_cast_func=score_cast_func)
            yield from data

    # ---- lists ----------------------------------------------------------------

    def blpop(self, keys: KeysT, timeout: Optional[Number] = 0) -> Optional[Tuple[StrT, StrT]]:
        if timeout is None:
            timeout = 0
        ks = list_or_args(keys, None)
        ks.append(timeout)
        return self.execute_command("BLPOP", *ks)

    def brpop(self, keys: KeysT, timeout: Optional[Number] = 0) -> Optional[Tuple[StrT, StrT]]:
        if timeout is None:
            timeout = 0
        ks = list_or_args(keys, None)
        ks.append(timeout)
        return self.execute_command("BRPOP", *ks)

    def brpoplpush(self, src: KeyT, dst: KeyT, timeout: Optional[Number] = 0) -> Optional[StrT]:
        if timeout is None:
            timeout = 0
        return self.execute_command("BRPOPLPUSH", src, dst, timeout)

    def blmpop(self, timeout: float, numkeys: int, *args: KeyT, direction: str, count: Optional[int] = 1) -> Optional[List[Any]]:
        cmd_args: List[Any] = [timeout, numkeys, *args, direction, "COUNT", count]
        return self.execute_command("BLMPOP", *cmd_args)

    def lmpop(self, num_keys: int, *args: KeyT, direction: str, count: Optional[int] = 1) -> Optional[List[Any]]:
        cmd_args: List[Any] = [num_keys, *args, direction]
        if count != 1:
            cmd_args.extend(["COUNT", count])
        return self.execute_command("LMPOP", *cmd_args)

    def lindex(self, name: KeyT, index: int) -> Optional[StrT]:
        return self.execute_command("LINDEX", name, index, keys=[name])

    def linsert(self, name: KeyT, where: str, refvalue: EncodableT, value: EncodableT) -> int:
        return self.execute_command("LINSERT", name, where, refvalue, value)

    def llen(self, name: KeyT) -> int:
        return self.execute_command("LLEN", name, keys=[name])

    def lmove(self, first_list: KeyT, second_list: KeyT, src: str = "LEFT", dest: str = "RIGHT") -> Optional[StrT]:
        return self.execute_command("LMOVE", first_list, second_list, src, dest)

    def blmove(self, first_list: KeyT, second_list: KeyT, timeout: Number, src: str = "LEFT", dest: str = "RIGHT") -> Optional[StrT]:
        return self.execute_command("BLMOVE", first_list, second_list, src, dest, timeout)

    def lpop(self, name: KeyT, count: Optional[int] = None) -> Union[StrT, List[StrT], None]:
        if count is not None:
            return self.execute_command("LPOP", name, count)
        return self.execute_command("LPOP", name)

    def lpos(self, name: KeyT, value: EncodableT, rank: Optional[int] = None, count: Optional[int] = None, maxlen: Optional[int] = None) -> Union[int, List[int], None]:
        pieces: List[EncodableT] = [name, value]
        if rank is not None:
            pieces.extend(["RANK", rank])
        if count is not None:
            pieces.extend(["COUNT", count])
        if maxlen is not None:
            pieces.extend(["MAXLEN", maxlen])
        return self.execute_command("LPOS", *pieces, keys=[name])

    def lpush(self, name: KeyT, *values: FieldT) -> int:
        return self.execute_command("LPUSH", name, *values)

    def lpushx(self, name: KeyT, *values: FieldT) -> int:
        return self.execute_command("LPUSHX", name, *values)

    def lrange(self, name: KeyT, start: int, end: int) -> List[StrT]:
        return self.execute_command("LRANGE", name, start, end, keys=[name])

    def lrem(self, name: KeyT, count: int, value: EncodableT) -> int:
        return self.execute_command("LREM", name, count, value)

    def lset(self, name: KeyT, index: int, value: EncodableT) -> bool:
        return self.execute_command("LSET", name, index, value)

    def ltrim(self, name: KeyT, start: int, end: int) -> bool:
        return self.execute_command("LTRIM", name, start, end)

    def rpop(self, name: KeyT, count: Optional[int] = None) -> Union[StrT, List[StrT], None]:
        if count is not None:
            return self.execute_command("RPOP", name, count)
        return self.execute_command("RPOP", name)

    def rpoplpush(self, src: KeyT, dst: KeyT) -> Optional[StrT]:
        return self.execute_command("RPOPLPUSH", src, dst)

    def rpush(self, name: KeyT, *values: FieldT) -> int:
        return self.execute_command("RPUSH", name, *values)

    def rpushx(self, name: KeyT, *values: FieldT) -> int:
        return self.execute_command("RPUSHX", name, *values)

    # ---- hashes ---------------------------------------------------------------

    def hdel(self, name: KeyT, *keys: FieldT) -> int:
        return self.execute_command("HDEL", name, *keys)

    def hexists(self, name: KeyT, key: FieldT) -> bool:
        return self.execute_command("HEXISTS", name, key, keys=[name])

    def hget(self, name: KeyT, key: FieldT) -> Optional[StrT]:
        return self.execute_command("HGET", name, key, keys=[name])

    def hgetall(self, name: KeyT) -> Dict[StrT, StrT]:
        return self.execute_command("HGETALL", name, keys=[name])

    def hincrby(self, name: KeyT, key: FieldT, amount: int = 1) -> int:
        return self.execute_command("HINCRBY", name, key, amount)

    def hincrbyfloat(self, name: KeyT, key: FieldT, amount: float = 1.0) -> float:
        return self.execute_command("HINCRBYFLOAT", name, key, amount)

    def hkeys(self, name: KeyT) -> List[StrT]:
        return self.execute_command("HKEYS", name, keys=[name])

    def hlen(self, name: KeyT) -> int:
        return self.execute_command("HLEN", name, keys=[name])

    def hset(self, name: KeyT, key: Optional[FieldT] = None, value: Optional[EncodableT] = None, mapping: Optional[Mapping[Any, EncodableT]] = None, items: Optional[Sequence[EncodableT]] = None) -> int:
        if key is None and not mapping and not items:
            raise DataError("'hset' with no key value pairs")
        pieces: List[Any] = []
        if items:
            pieces.extend(items)
        if key is not None:
            pieces.extend((key, value))
        if mapping:
            for pair in mapping.items():
                pieces.extend(pair)
        return self.execute_command("HSET", name, *pieces)

    def hsetnx(self, name: KeyT, key: FieldT, value: EncodableT) -> int:
        return self.execute_command("HSETNX", name, key, value)

    def hmset(self, name: KeyT, mapping: Mapping[Any, EncodableT]) -> bool:
        warnings.warn(DeprecationWarning("Redis.hmset() is deprecated. Use Redis.hset() instead."), stacklevel=2)
        if not mapping:
            raise DataError("'hmset' with 'mapping' of length 0")
        items: List[EncodableT] = []
        for pair in mapping.items():
            items.extend(pair)
        return self.execute_command("HMSET", name, *items)

    def hmget(self, name: KeyT, keys: Union[FieldT, Iterable[FieldT]], *args: FieldT) -> List[Optional[StrT]]:
        fields = list_or_args(keys, args)
        return self.execute_command("HMGET", name, *fields, keys=[name])

    def hvals(self, name: KeyT) -> List[StrT]:
        return self.execute_command("HVALS", name, keys=[name])

    def hstrlen(self, name: KeyT, key: FieldT) -> int:
        return self.execute_command("HSTRLEN", name, key, keys=[name])

    def hrandfield(self, key: KeyT, count: Optional[int] = None, withvalues: bool = False) -> Union[StrT, List[StrT], None]:
        params: List[EncodableT] = []
        if count is not None:
            params.append(count)
        if withvalues:
            params.append("WITHVALUES")
        return self.execute_command("HRANDFIELD", key, *params, withvalues=withvalues)

    # ---- sets -----------------------------------------------------------------

    def sadd(self, name: KeyT, *values: FieldT) -> int:
        return self.execute_command("SADD", name, *values)

    def scard(self, name: KeyT) -> int:
        return self.execute_command("SCARD", name, keys=[name])

    def sdiff(self, keys: KeysT, *args: KeyT) -> Set[StrT]:
        ks = list_or_args(keys, args)
        return self.execute_command("SDIFF", *ks, keys=ks)

    def sdiffstore(self, dest: KeyT, keys: KeysT, *args: KeyT) -> int:
        ks = list_or_args(keys, args)
        return self.execute_command("SDIFFSTORE", dest, *ks)

    def sinter(self, keys: KeysT, *args: KeyT) -> Set[StrT]:
        ks = list_or_args(keys, args)
        return self.execute_command("SINTER", *ks, keys=ks)

    def sintercard(self, numkeys: int, keys: List[KeyT], limit: int = 0) -> int:
        args: List[Any] = [numkeys, *keys, "LIMIT", limit]
        return self.execute_command("SINTERCARD", *args, keys=keys)

    def sinterstore(self, dest: KeyT, keys: KeysT, *args: KeyT) -> int:
        ks = list_or_args(keys, args)
        return self.execute_command("SINTERSTORE", dest, *ks)

    def sismember(self, name: KeyT, value: EncodableT) -> int:
        return self.execute_command("SISMEMBER", name, value, keys=[name])

    def smembers(self, name: KeyT) -> Set[StrT]:
        return self.execute_command("SMEMBERS", name, keys=[name])

    def smismember(self, name: KeyT, values: Union[EncodableT, Iterable[EncodableT]], *args: EncodableT) -> List[int]:
        vals = list_or_args(values, args)
        return self.execute_command("SMISMEMBER", name, *vals, keys=[name])

    def smove(self, src: KeyT, dst: KeyT, value: EncodableT) -> bool:
        return self.execute_command("SMOVE", src, dst, value)

    def spop(self, name: KeyT, count: Optional[int] = None) -> Union[StrT, List[StrT], None]:
        args = count is not None and [count] or []
        return self.execute_command("SPOP", name, *args)

    def srandmember(self, name: KeyT, number: Optional[int] = None) -> Union[StrT, List[StrT], None]:
        args = number is not None and [number] or []
        return self.execute_command("SRANDMEMBER", name, *args)

    def srem(self, name: KeyT, *values: FieldT) -> int:
        return self.execute_command("SREM", name, *values)

    def sunion(self, keys: KeysT, *args: KeyT) -> Set[StrT]:
        ks = list_or_args(keys, args)
        return self.execute_command("SUNION", *ks, keys=ks)

    def sunionstore(self, dest: KeyT, keys: KeysT, *args: KeyT) -> int:
        ks = list_or_args(keys, args)
        return self.execute_command("SUNIONSTORE", dest, *ks)

    # ---- sorted sets ----------------------------------------------------------

    def zadd(self, name: KeyT, mapping: Mapping[Any, EncodableT], nx: bool = False, xx: bool = False, ch: bool = False, incr: bool = False, gt: bool = False, lt: bool = False) -> Union[int, float, None]:
        if not mapping:
            raise DataError("ZADD requires at least one element/score pair")
        if nx and xx:
            raise DataError("ZADD allows either 'nx' or 'xx', not both")
        if gt and lt:
            raise DataError("ZADD allows either 'gt' or 'lt', not both")
        if incr and len(mapping) != 1:
            raise DataError("ZADD option 'incr' only works when passing a single element/score pair")
        if nx and (gt or lt):
            raise DataError("Only one of 'nx', 'lt', or 'gr' may be defined.")
        pieces: List[EncodableT] = []
        options = {}
        if nx:
            pieces.append(b"NX")
        if xx:
            pieces.append(b"XX")
        if ch:
            pieces.append(b"CH")
        if incr:
            pieces.append(b"INCR")
            options["as_score"] = True
        if gt:
            pieces.append(b"GT")
        if lt:
            pieces.append(b"LT")
        for member, score in mapping.items():
            pieces.append(score)
            pieces.append(member)
        return self.execute_command("ZADD", name, *pieces, **options)

    def zcard(self, name: KeyT) -> int:
        return self.execute_command("ZCARD", name, keys=[name])

    def zcount(self, name: KeyT, min: ZScoreBoundT, max: ZScoreBoundT) -> int:
        return self.execute_command("ZCOUNT", name, min, max, keys=[name])

    def zdiff(self, keys: Sequence[KeyT], withscores: bool = False) -> Any:
        pieces: List[Any] = [len(keys), *keys]
        if withscores:
            pieces.append("WITHSCORES")
        return self.execute_command("ZDIFF", *pieces, keys=keys, withscores=withscores)

    def zdiffstore(self, dest: KeyT, keys: Sequence[KeyT]) -> int:
        pieces: List[Any] = [len(keys), *keys]
        return self.execute_command("ZDIFFSTORE", dest, *pieces)

    def zincrby(self, name: KeyT, amount: float, value: EncodableT) -> float:
        return self.execute_command("ZINCRBY", name, amount, value)

    def zinter(self, keys: Union[Sequence[KeyT], Mapping[Any, float]], aggregate: Optional[str] = None, withscores: bool = False) -> Any:
        return self._zaggregate("ZINTER", None, keys, aggregate, withscores=withscores)

    def zinterstore(self, dest: KeyT, keys: Union[Sequence[KeyT], Mapping[Any, float]], aggregate: Optional[str] = None) -> int:
        return self._zaggregate("ZINTERSTORE", dest, keys, aggregate)

    def zintercard(self, numkeys: int, keys: List[KeyT], limit: int = 0) -> int:
        args: List[Any] = [numkeys, *keys, "LIMIT", limit]
        return self.execute_command("ZINTERCARD", *args, keys=keys)

    def zlexcount(self, name: KeyT, min: EncodableT, max: EncodableT) -> int:
        return self.execute_command("ZLEXCOUNT", name, min, max, keys=[name])

    def zpopmax(self, name: KeyT, count: Optional[int] = None) -> List[Tuple[StrT, float]]:
        args = count is not None and [count] or []
        return self.execute_command("ZPOPMAX", name, *args, withscores=True)

    def zpopmin(self, name: KeyT, count: Optional[int] = None) -> List[Tuple[StrT, float]]:
        args = count is not None and [count] or []
        return self.execute_command("ZPOPMIN", name, *args, withscores=True)

    def zrandmember(self, key: KeyT, count: Optional[int] = None, withscores: bool = False) -> Any:
        params: List[EncodableT] = []
        if count is not None:
            params.append(count)
        if withscores:
            params.append("WITHSCORES")
        return self.execute_command("ZRANDMEMBER", key, *params, withscores=withscores)

    def bzpopmax(self, keys: KeysT, timeout: TimeoutSecT = 0) -> Optional[Tuple[StrT, StrT, float]]:
        if timeout is None:
            timeout = 0
        ks = list_or_args(keys, None)
        ks.append(timeout)
        return self.execute_command("BZPOPMAX", *ks)

    def bzpopmin(self, keys: KeysT, timeout: TimeoutSecT = 0) -> Optional[Tuple[StrT, StrT, float]]:
        if timeout is None:
            timeout = 0
        ks = list_or_args(keys, None)
        ks.append(timeout)
        return self.execute_command("BZPOPMIN", *ks)

    def zmpop(self, num_keys: int, keys: List[KeyT], min: Optional[bool] = False, max: Optional[bool] = False, count: Optional[int] = 1) -> Optional[List[Any]]:
        args: List[Any] = [num_keys, *keys]
        if (min and max) or (not min and not max):
            raise DataError
        args.append("MIN" if min else "MAX")
        if count != 1:
            args.extend(["COUNT", count])
        return self.execute_command("ZMPOP", *args)

    def bzmpop(self, timeout: float, numkeys: int, keys: List[KeyT], min: Optional[bool] = False, max: Optional[bool] = False, count: Optional[int] = 1) -> Optional[List[Any]]:
        args: List[Any] = [timeout, numkeys, *keys]
        if (min and max) or (not min and not max):
            raise DataError("Either min or max, but not both must be set")
        args.append("MIN" if min else "MAX")
        args.extend(["COUNT", count])
        return self.execute_command("BZMPOP", *args)

    def _zrange(self, command: str, dest: Optional[KeyT], name: KeyT, start: EncodableT, end: EncodableT, desc: bool = False, byscore: bool = False, bylex: bool = False, withscores: bool = False, score_cast_func: Optional[ScoreCastT] = float, offset: Optional[int] = None, num: Optional[int] = None) -> Any:
        if byscore and bylex:
            raise DataError("``byscore`` and ``bylex`` can not be specified together.")
        if (offset is not None and num is None) or (num is not None and offset is None):
            raise DataError("``offset`` and ``num`` must both be specified.")
        if bylex and withscores:
            raise DataError("``withscores`` not supported in combination with ``bylex``.")
        pieces: List[Any] = [command]
        if dest:
            pieces.append(dest)
        pieces.extend([name, start, end])
        if byscore:
            pieces.append("BYSCORE")
        if bylex:
            pieces.append("BYLEX")
        if desc:
            pieces.append("REV")
        if offset is not None and num is not None:
            pieces.extend(["LIMIT", offset, num])
        if withscores:
            pieces.append("WITHSCORES")
        options: Dict[str, Any] = {"withscores": withscores, "score_cast_func": score_cast_func, "keys": [name]}
        return self.execute_command(*pieces, **options)

    def zrange(self, name: KeyT, start: EncodableT, end: EncodableT, desc: bool = False, withscores: bool = False, score_cast_func: ScoreCastT = float, byscore: bool = False, bylex: bool = False, offset: Optional[int] = None, num: Optional[int] = None) -> Union[List[StrT], List[Tuple[StrT, Any]]]:
        if not byscore and not bylex and (offset is None and num is None) and desc:
            return self.zrevrange(name, start, end, withscores, score_cast_func)  # type: ignore[arg-type]
        return self._zrange("ZRANGE", None, name, start, end, desc, byscore, bylex, withscores, score_cast_func, offset, num)

    def zrevrange(self, name: KeyT, start: int, end: int, withscores: bool = False, score_cast_func: ScoreCastT = float) -> Union[List[StrT], List[Tuple[StrT, Any]]]:
        pieces: List[Any] = ["ZREVRANGE", name, start, end]
        if withscores:
            pieces.append(b"WITHSCORES")
        options: Dict[str, Any] = {"withscores": withscores, "score_cast_func": score_cast_func, "keys": name}
        return self.execute_command(*pieces, **options)

    def zrangestore(self, dest: KeyT, name: KeyT, start: EncodableT, end: EncodableT, byscore: bool = False, bylex: bool = False, desc: bool = False, offset: Optional[int] = None, num: Optional[int] = None) -> int:
        return self._zrange("ZRANGESTORE", dest, name, start, end, desc, byscore, bylex, False, None, offset, num)

    def zrangebylex(self, name: KeyT, min: EncodableT, max: EncodableT, start: Optional[int] = None, num: Optional[int] = None) -> List[StrT]:
        if (start is not None and num is None) or (num is not None and start is None):
            raise DataError("``start`` and ``num`` must both be specified")
        pieces: List[Any] = ["ZRANGEBYLEX", name, min, max]
        if start is not None and num is not None:
            pieces.extend([b"LIMIT", start, num])
        return self.execute_command(*pieces, keys=[name])

    def zrevrangebylex(self, name: KeyT, max: EncodableT, min: EncodableT, start: Optional[int] = None, num: Optional[int] = None) -> List[StrT]:
        if (start is not None and num is None) or (num is not None and start is None):
            raise DataError("``start`` and ``num`` must both be specified")
        pieces: List[Any] = ["ZREVRANGEBYLEX", name, max, min]
        if start is not None and num is not None:
            pieces.extend(["LIMIT", start, num])
        return self.execute_command(*pieces, keys=[name])

    def zrangebyscore(self, name: KeyT, min: ZScoreBoundT, max: ZScoreBoundT, start: Optional[int] = None, num: Optional[int] = None, withscores: bool = False, score_cast_func: ScoreCastT = float) -> Union[List[StrT], List[Tuple[StrT, Any]]]:
        if (start is not None and num is None) or (num is not None and start is None):
            raise DataError("``start`` and ``num`` must both be specified")
        pieces: List[Any] = ["ZRANGEBYSCORE", name, min, max]
        if start is not None and num is not None:
            pieces.extend(["LIMIT", start, num])
        if withscores:
            pieces.append("WITHSCORES")
        options: Dict[str, Any] = {"withscores": withscores, "score_cast_func": score_cast_func, "keys": [name]}
        return self.execute_command(*pieces, **options)

    def zrevrangebyscore(self, name: KeyT, max: ZScoreBoundT, min: ZScoreBoundT, start: Optional[int] = None, num: Optional[int] = None, withscores: bool = False, score_cast_func: ScoreCastT = float) -> Union[List[StrT], List[Tuple[StrT, Any]]]:
        if (start is not None and num is None) or (num is not None and start is None):
            raise DataError("``start`` and ``num`` must both be specified")
        pieces: List[Any] = ["ZREVRANGEBYSCORE", name, max, min]
        if start is not None and num is not None:
            pieces.extend(["LIMIT", start, num])
        if withscores:
            pieces.append("WITHSCORES")
        options: Dict[str, Any] = {"withscores": withscores, "score_cast_func": score_cast_func, "keys": [name]}
        return self.execute_command(*pieces, **options)

    def zrank(self, name: KeyT, value: EncodableT, withscore: bool = False, score_cast_func: ScoreCastT = float) -> Union[int, List[Any], None]:
        pieces: List[Any] = ["ZRANK", name, value]
        if withscore:
            pieces.append("WITHSCORE")
        return self.execute_command(*pieces, withscore=withscore, score_cast_func=score_cast_func)

    def zrem(self, name: KeyT, *values: FieldT) -> int:
        return self.execute_command("ZREM", name, *values)

    def zremrangebylex(self, name: KeyT, min: EncodableT, max: EncodableT) -> int:
        return self.execute_command("ZREMRANGEBYLEX", name, min, max)

    def zremrangebyrank(self, name: KeyT, min: int, max: int) -> int:
        return self.execute_command("ZREMRANGEBYRANK", name, min, max)

    def zremrangebyscore(self, name: KeyT, min: ZScoreBoundT, max: ZScoreBoundT) -> int:
        return self.execute_command("ZREMRANGEBYSCORE", name, min, max)

    def zrevrank(self, name: KeyT, value: EncodableT, withscore: bool = False, score_cast_func: ScoreCastT = float) -> Union[int, List[Any], None]:
        pieces: List[Any] = ["ZREVRANK", name, value]
        if withscore:
            pieces.append("WITHSCORE")
        return self.execute_command(*pieces, withscore=withscore, score_cast_func=score_cast_func)

    def zscore(self, name: KeyT, value: EncodableT) -> Optional[float]:
        return self.execute_command("ZSCORE", name, value, keys=[name])

    def zunion(self, keys: Union[Sequence[KeyT], Mapping[Any, float]], aggregate: Optional[str] = None, withscores: bool = False, score_cast_func: ScoreCastT = float) -> Any:
        return self._zaggregate("ZUNION", None, keys, aggregate, withscores=withscores, score_cast_func=score_cast_func)

    def zunionstore(self, dest: KeyT, keys: Union[Sequence[KeyT], Mapping[Any, float]], aggregate: Optional[str] = None) -> int:
        return self._zaggregate("ZUNIONSTORE", dest, keys, aggregate)

    def zmscore(self, key: KeyT, members: List[EncodableT]) -> List[Optional[float]]:
        if not members:
            raise DataError("ZMSCORE members must be a non-empty list")
        return self.execute_command("ZMSCORE", key, *members, keys=[key])

    def _zaggregate(self, command: str, dest: Optional[KeyT], keys: Union[Sequence[KeyT], Mapping[Any, float]], aggregate: Optional[str] = None, **options: Any) -> Any:
        pieces: List[Any] = [command]
        if dest is not None:
            pieces.append(dest)
        pieces.append(len(keys))
        weights: Any = None
        if isinstance(keys, dict):
            keys, weights = keys.keys(), keys.values()  # type: ignore[assignment]
        pieces.extend(keys)
        if weights:
            pieces.append(b"WEIGHTS")
            pieces.extend(weights)
        if aggregate:
            if aggregate.upper() in ["SUM", "MIN", "MAX", "COUNT"]:
                pieces.append(b"AGGREGATE")
                pieces.append(aggregate)
            else:
                raise DataError("aggregate can be sum, min, max or count.")
        if options.get("withscores", False):
            pieces.append(b"WITHSCORES")
        options["keys"] = keys
        return self.execute_command(*pieces, **options)

    # ---- pub/sub (publishing side; subscribing is pubsub()) -------------------

    def publish(self, channel: ChannelT, message: EncodableT, **kwargs: Any) -> int:
        return self.execute_command("PUBLISH", channel, message, **kwargs)

    def spublish(self, shard_channel: ChannelT, message: EncodableT) -> int:
        return self.execute_command("SPUBLISH", shard_channel, message)

    def pubsub_channels(self, pattern: PatternT = "*", **kwargs: Any) -> List[StrT]:
        return self.execute_command("PUBSUB CHANNELS", pattern, **kwargs)

    def pubsub_shardchannels(self, pattern: PatternT = "*", **kwargs: Any) -> List[StrT]:
        return self.execute_command("PUBSUB SHARDCHANNELS", pattern, **kwargs)

    def pubsub_numpat(self, **kwargs: Any) -> int:
        return self.execute_command("PUBSUB NUMPAT", **kwargs)

    def pubsub_numsub(self, *args: ChannelT, **kwargs: Any) -> List[Tuple[StrT, int]]:
        return self.execute_command("PUBSUB NUMSUB", *args, **kwargs)

    def pubsub_shardnumsub(self, *args: ChannelT, **kwargs: Any) -> List[Tuple[StrT, int]]:
        return self.execute_command("PUBSUB SHARDNUMSUB", *args, **kwargs)

    # ---- transactions on a plain client: as redis-py, use a pipeline ----------

    def watch(self, *names: KeyT) -> None:
        warnings.warn(DeprecationWarning("Call WATCH from a Pipeline object"), stacklevel=2)

    def unwatch(self) -> None:
        warnings.warn(DeprecationWarning("Call UNWATCH from a Pipeline object"), stacklevel=2)


class AsyncScanCommands:
    """The ``*scan_iter`` methods as async generators (asyncio client)."""

    scan: Callable[..., Any]
    sscan: Callable[..., Any]
    hscan: Callable[..., Any]
    zscan: Callable[..., Any]

    async def scan_iter(self, match: Optional[PatternT] = None, count: Optional[int] = None, _type: Optional[str] = None, **kwargs: Any) -> Any:
        cursor: Any = "0"
        while cursor != 0:
            cursor, data = await self.scan(cursor=cursor, match=match, count=count, _type=_type, **kwargs)
            for d in data:
                yield d

    async def sscan_iter(self, name: KeyT, match: Optional[PatternT] = None, count: Optional[int] = None) -> Any:
        cursor: Any = "0"
        while cursor != 0:
            cursor, data = await self.sscan(name, cursor=cursor, match=match, count=count)
            for d in data:
                yield d

    async def hscan_iter(self, name: KeyT, match: Optional[PatternT] = None, count: Optional[int] = None, no_values: Optional[bool] = None) -> Any:
        cursor: Any = "0"
        while cursor != 0:
            cursor, data = await self.hscan(name, cursor=cursor, match=match, count=count, no_values=no_values)
            if no_values:
                for it in data:
                    yield it
            else:
                for it in data.items():
                    yield it

    async def zscan_iter(self, name: KeyT, match: Optional[PatternT] = None, count: Optional[int] = None, score_cast_func: ScoreCastT = float) -> Any:
        cursor: Any = "0"
        while cursor != 0:
            cursor, data = await self.zscan(name, cursor=cursor, match=match, count=count, score_cast_func=score_cast_func)
            for d in data:
                yield d


# keep RedisError importable from here for code that did `from redis.commands.core import ...`
_ = RedisError
