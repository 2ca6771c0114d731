"""Response callbacks: how a raw reply becomes the value a method returns.

The same table as redis-py's RESP2 client (``legacy_responses=True``, the
default), keyed by the upper-case command name as given to
``execute_command`` ("CONFIG GET" for subcommands). Helpers follow redis-py's
``_parsers/helpers.py`` shapes (MIT licensed).
"""

from __future__ import annotations

import datetime
from typing import Any, Callable, Dict, List, Optional

__all__ = ["RESPONSE_CALLBACKS", "str_if_bytes", "pairs_to_dict", "EMPTY_RESPONSE", "NEVER_DECODE"]

EMPTY_RESPONSE = "EMPTY_RESPONSE"
NEVER_DECODE = "NEVER_DECODE"


def str_if_bytes(value: Any) -> Any:
    return value.decode("utf-8", errors="replace") if isinstance(value, bytes) else value


def bool_ok(response: Any, **options: Any) -> bool:
    return str_if_bytes(response) == "OK"


def float_or_none(response: Any, **options: Any) -> Optional[float]:
    if response is None:
        return None
    return float(response)


def timestamp_to_datetime(response: Any, **options: Any) -> Optional[datetime.datetime]:
    if not response:
        return None
    try:
        return datetime.datetime.fromtimestamp(int(response))
    except ValueError:
        return None


def pairs_to_dict(response: Any, decode_keys: bool = False, decode_string_values: bool = False) -> Dict[Any, Any]:
    if response is None:
        return {}
    if decode_keys or decode_string_values:
        keys = response[::2]
        if decode_keys:
            keys = map(str_if_bytes, keys)
        values = response[1::2]
        if decode_string_values:
            values = map(str_if_bytes, values)
        return dict(zip(keys, values))
    it = iter(response)
    return dict(zip(it, it))


def _wrap_score_cast_func(score_cast_func: Callable[[Any], Any]) -> Callable[[Any], Any]:
    # scores may come as '1.7732526297292595e+18': int() can't parse that,
    # so retry through float() (redis-py does the same)
    if score_cast_func is float:
        return score_cast_func

    def _safe_cast(x: Any) -> Any:
        try:
            return score_cast_func(x)
        except (ValueError, TypeError):
            return score_cast_func(float(x))

    return _safe_cast


def zset_score_pairs(response: Any, **options: Any) -> Any:
    if not response or not options.get("withscores"):
        return response
    cast = _wrap_score_cast_func(options.get("score_cast_func", float))
    it = iter(response)
    return list(zip(it, map(cast, it)))


def zpop_score_pairs(response: Any, **options: Any) -> Any:
    if not response:
        return response
    cast = _wrap_score_cast_func(options.get("score_cast_func", float))
    it = iter(response)
    return list(zip(it, map(cast, it)))


def zset_score_for_rank(response: Any, **options: Any) -> Any:
    if not response or not options.get("withscore"):
        return response
    cast = _wrap_score_cast_func(options.get("score_cast_func", float))
    return [response[0], cast(response[1])]


def sort_return_tuples(response: Any, **options: Any) -> Any:
    if not response or not options.get("groups"):
        return response
    n = options["groups"]
    return list(zip(*[response[i::n] for i in range(n)]))


def parse_zadd(response: Any, **options: Any) -> Any:
    if response is None:
        return None
    if options.get("as_score"):
        return float(response)
    return int(response)


def parse_zmscore(response: Any, **options: Any) -> List[Optional[float]]:
    return [float(score) if score is not None else None for score in response]


def parse_set_result(response: Any, **options: Any) -> Any:
    if options.get("get"):
        return response
    return response and str_if_bytes(response) == "OK"


def parse_scan(response: Any, **options: Any) -> Any:
    cursor, r = response
    return int(cursor), r


def parse_hscan(response: Any, **options: Any) -> Any:
    cursor, r = response
    if options.get("no_values", False):
        return int(cursor), r or []
    return int(cursor), r and pairs_to_dict(r) or {}


def parse_zscan(response: Any, **options: Any) -> Any:
    cast = _wrap_score_cast_func(options.get("score_cast_func", float))
    cursor, r = response
    it = iter(r)
    return int(cursor), list(zip(it, map(cast, it)))


def parse_info(response: Any, **options: Any) -> Dict[str, Any]:
    info: Dict[str, Any] = {}
    response = str_if_bytes(response)

    def get_value(value: str) -> Any:
        if "," not in value and "=" not in value:
            try:
                if "." in value:
                    return float(value)
                return int(value)
            except ValueError:
                return value
        elif "=" not in value:
            return [get_value(v) for v in value.split(",") if v]
        sub: Dict[str, Any] = {}
        for item in value.split(","):
            if not item:
                continue
            if "=" in item:
                k, v = item.rsplit("=", 1)
                sub[k] = get_value(v)
            else:
                sub[item] = True
        return sub

    for line in response.splitlines():
        if line and not line.startswith("#"):
            if line.find(":") != -1:
                key, value = line.split(":", 1)
                if key == "cmdstat_host":
                    key, value = line.rsplit(":", 1)
                if key == "module":
                    info.setdefault("modules", []).append(get_value(value))
                else:
                    info[key] = get_value(value)
            else:
                info.setdefault("__raw__", []).append(line)
    return info


def parse_config_get(response: Any, **options: Any) -> Dict[Any, Any]:
    response = [str_if_bytes(i) if i is not None else None for i in response]
    return response and pairs_to_dict(response) or {}


def parse_client_list(response: Any, **options: Any) -> List[Dict[str, str]]:
    clients = []
    for c in str_if_bytes(response).splitlines():
        client_dict: Dict[str, str] = {}
        last_key = None
        for token in c.split(" "):
            if "=" in token:
                key, value = token.split("=", 1)
                client_dict[key] = value
                last_key = key
            elif last_key is not None:
                client_dict[last_key] += " " + token
        if client_dict:
            clients.append(client_dict)
    return clients


_CLIENT_INFO_INTS = {
    "id", "age", "idle", "db", "sub", "psub", "multi", "qbuf", "qbuf-free", "obl", "argv-mem", "oll",
    "omem", "tot-mem",
}


def parse_client_info(value: Any, **options: Any) -> Dict[str, Any]:
    info: Dict[str, Any] = {}
    for item in str_if_bytes(value).strip().split():
        key, val = item.split("=", 1)
        info[key] = val
    for k in _CLIENT_INFO_INTS:
        if k in info:
            info[k] = int(info[k])
    return info


def parse_debug_object(response: Any, **options: Any) -> Dict[str, Any]:
    response = "type:" + str_if_bytes(response)
    out: Dict[str, Any] = dict(kv.split(":", 1) for kv in response.split())
    for field in ("refcount", "serializedlength", "lru", "lru_seconds_idle"):
        if field in out:
            out[field] = int(out[field])
    return out


def parse_command(response: Any, **options: Any) -> Dict[str, Dict[str, Any]]:
    commands = {}
    for command in response:
        cmd: Dict[str, Any] = {}
        name = str_if_bytes(command[0])
        cmd["name"] = name
        cmd["arity"] = int(command[1])
        cmd["flags"] = [str_if_bytes(flag) for flag in command[2]]
        cmd["first_key_pos"] = command[3]
        cmd["last_key_pos"] = command[4]
        cmd["step_count"] = command[5]
        if len(command) > 6:
            cmd["acl_categories"] = [str_if_bytes(c) for c in command[6]]
        if len(command) > 7:
            cmd["tips"] = command[7]
            cmd["key_specifications"] = command[8]
            cmd["subcommands"] = command[9]
        commands[name] = cmd
    return commands


def parse_pubsub_numsub(response: Any, **options: Any) -> List[Any]:
    return list(zip(response[0::2], response[1::2]))


def _set_or_empty(r: Any, **options: Any) -> Any:
    return r and set(r) or set()


def _list_of_str(r: Any, **options: Any) -> Any:
    return list(map(str_if_bytes, r))


def _keys(names: str, cb: Callable[..., Any]) -> Dict[str, Callable[..., Any]]:
    return dict.fromkeys(names.split(), cb)


def _bool(r: Any, **options: Any) -> bool:
    return bool(r)


def _float(r: Any, **options: Any) -> float:
    return float(r)


def _true(r: Any, **options: Any) -> bool:
    return True


RESPONSE_CALLBACKS: Dict[str, Callable[..., Any]] = {
    # redis-py: _RedisCallbacks
    **_keys(
        "AUTH COPY EXPIRE EXPIREAT HEXISTS HMSET MOVE MSETNX PERSIST PSETEX PEXPIRE PEXPIREAT RENAMENX "
        "SETEX SETNX SMOVE",
        _bool,
    ),
    **_keys("HINCRBYFLOAT INCRBYFLOAT", _float),
    **_keys(
        "ASKING FLUSHALL FLUSHDB LSET LTRIM MSET PFMERGE READONLY READWRITE RENAME SAVE SELECT SHUTDOWN "
        "SLAVEOF SWAPDB WATCH UNWATCH",
        bool_ok,
    ),
    "CLIENT INFO": parse_client_info,
    "CLIENT KILL": lambda r, **o: r if isinstance(r, int) else str_if_bytes(r) == "OK",
    "CLIENT LIST": parse_client_list,
    "CLIENT PAUSE": bool_ok,
    "CLIENT SETINFO": bool_ok,
    "CLIENT SETNAME": bool_ok,
    "CLIENT UNBLOCK": _bool,
    "COMMAND": parse_command,
    "CONFIG RESETSTAT": bool_ok,
    "CONFIG SET": bool_ok,
    "HSCAN": parse_hscan,
    "INFO": parse_info,
    "LASTSAVE": timestamp_to_datetime,
    "PING": lambda r, **o: str_if_bytes(r) == "PONG",
    "PUBSUB NUMSUB": parse_pubsub_numsub,
    "PUBSUB SHARDNUMSUB": parse_pubsub_numsub,
    "QUIT": bool_ok,
    "SET": parse_set_result,
    "SCAN": parse_scan,
    "SORT": sort_return_tuples,
    "SSCAN": parse_scan,
    "TIME": lambda x, **o: (int(x[0]), int(x[1])),
    "ZSCAN": parse_zscan,
    # redis-py: _RedisCallbacksRESP2
    **_keys("SDIFF SINTER SMEMBERS SUNION", _set_or_empty),
    **_keys("ZINTER ZRANGE ZRANGEBYSCORE ZREVRANGE ZREVRANGEBYSCORE ZUNION", zset_score_pairs),
    **_keys("ZPOPMAX ZPOPMIN", zpop_score_pairs),
    **_keys("ZREVRANK ZRANK", zset_score_for_rank),
    **_keys("ZINCRBY ZSCORE", float_or_none),
    **_keys("BGREWRITEAOF BGSAVE", _true),
    **_keys("BLPOP BRPOP", lambda r, **o: r and tuple(r) or None),
    **_keys("BZPOPMAX BZPOPMIN", lambda r, **o: r and (r[0], r[1], float(r[2])) or None),
    "CLIENT GETNAME": lambda r, **o: str_if_bytes(r),
    "COMMAND GETKEYS": _list_of_str,
    "CONFIG GET": parse_config_get,
    "DEBUG OBJECT": parse_debug_object,
    "HGETALL": lambda r, **o: r and pairs_to_dict(r) or {},
    "RESET": lambda r, **o: str_if_bytes(r),
    "ZADD": parse_zadd,
    "ZMSCORE": parse_zmscore,
}
