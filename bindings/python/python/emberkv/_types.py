"""Type aliases shared by the clients and their stubs (redis-py's names)."""

from __future__ import annotations

import datetime
from typing import Any, Awaitable, Callable, Iterable, Mapping, TypeVar, Union

EncodedT = Union[bytes, memoryview]
DecodedT = Union[str, int, float]
EncodableT = Union[EncodedT, DecodedT]
KeyT = Union[bytes, str, memoryview]
PatternT = Union[bytes, str, memoryview]
FieldT = EncodableT
ChannelT = Union[bytes, str, memoryview]
AnyKeyT = TypeVar("AnyKeyT", bytes, str, memoryview)
AnyFieldT = TypeVar("AnyFieldT", bytes, str, memoryview)
KeysT = Union[KeyT, Iterable[KeyT]]
ExpiryT = Union[int, datetime.timedelta]
AbsExpiryT = Union[int, datetime.datetime]
ZScoreBoundT = Union[float, str]
TimeoutSecT = Union[int, float, str]
Number = Union[int, float]
ResponseT = Union[Awaitable[Any], Any]
ScoreCastT = Callable[[Any], Any]
MappingT = Mapping[Any, EncodableT]

#: ``bytes`` (default) or ``str`` (``decode_responses=True``)
StrT = TypeVar("StrT", bytes, str)
