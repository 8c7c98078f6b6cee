"""Envelope <-> Kafka record (value bytes + headers).

The value is compact JSON (orjson) so ``kafka-console-consumer`` prints it as it is: ``v``
first, then the envelope's fields in declaration order, ``None`` fields left out, the op as
its string, ``chunk`` as ``[index, count]``, and fields unknown to this version (``extra``)
written back at the top level so a relay running an older version loses nothing.

Headers let a consumer route and check a record without parsing its value; they always agree
with the value (decode checks that), and signing covers them (see ``signing``):

    shard  shard id, ASCII (absent on control and feedback topics)
    seq    decimal ASCII
    chunk  ``"<index>/<count>"`` on chunks of a large document only
    kid, sig   added by ``signing.Signer``

Decoding never guesses: a newer schema version, a missing or ill-typed field, an unknown op or
a header that contradicts the value raises ``DecodeError`` naming the topic and offset.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import orjson

from dc2dc.topics.errors import DecodeError
from dc2dc.topics.envelope import SCHEMA_VERSION, Envelope, Op

Headers = list[tuple[str, bytes]]

H_SHARD = "shard"
H_SEQ = "seq"
H_CHUNK = "chunk"
H_KID = "kid"
H_SIG = "sig"

_REQUIRED = ("op", "src", "seq")


def _check_int(value: Any) -> int:
    # bool is an int subclass in Python, but never a valid seq/epoch/ts in JSON.
    if type(value) is not int:
        raise TypeError("an integer")
    return value


def _check_str(value: Any) -> str:
    if type(value) is not str:
        raise TypeError("a string")
    return value


def _check_dict(value: Any) -> dict[str, Any]:
    if type(value) is not dict:
        raise TypeError("a JSON object")
    return value


def _check_op(value: Any) -> Op:
    try:
        return Op(_check_str(value))
    except ValueError:
        raise TypeError(f"one of {', '.join(op.value for op in Op)}") from None


def _check_chunk(value: Any) -> tuple[int, int]:
    if (
        type(value) is not list
        or len(value) != 2
        or not all(type(x) is int for x in value)
        or not 0 <= value[0] < value[1]
    ):
        raise TypeError("[index, count] with 0 <= index < count")
    return (value[0], value[1])


def _checker_for(annotation: Any) -> tuple[Callable[[Any], Any], bool]:
    """(checker, optional) for one Envelope annotation; fails at import on a type not handled."""
    optional = False
    if isinstance(annotation, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        optional = len(args) != len(typing.get_args(annotation))
        (annotation,) = args
    origin = typing.get_origin(annotation) or annotation
    table: dict[Any, Callable[[Any], Any]] = {
        int: _check_int, str: _check_str, dict: _check_dict, Op: _check_op, tuple: _check_chunk,
    }
    if origin not in table:
        raise TypeError(f"codec has no rule for Envelope field type {annotation!r}")
    return table[origin], optional


_HINTS = typing.get_type_hints(Envelope)
# Field order of the JSON value: "v" first so a human sees the version before anything else.
_FIELDS: tuple[str, ...] = ("v",) + tuple(
    f.name for f in dataclasses.fields(Envelope) if f.name not in ("v", "extra")
)
_CHECKERS = {name: _checker_for(_HINTS[name]) for name in _FIELDS}
_FIELDS_SET = frozenset(_FIELDS)


def index_headers(headers: Iterable[tuple[str, bytes]] | None) -> dict[str, bytes]:
    """Headers as a dict; a repeated name is refused, since readers could disagree on which wins."""
    out: dict[str, bytes] = {}
    for name, value in headers or ():
        if name in out:
            raise DecodeError(f"header {name!r} appears more than once")
        out[name] = value
    return out


def _headers_for(env: Envelope) -> Headers:
    headers: Headers = []
    if env.shard is not None:
        headers.append((H_SHARD, env.shard.encode()))
    headers.append((H_SEQ, str(env.seq).encode()))
    if env.chunk is not None:
        headers.append((H_CHUNK, f"{env.chunk[0]}/{env.chunk[1]}".encode()))
    return headers


def encode(env: Envelope) -> tuple[bytes, Headers]:
    """Value bytes and headers of one record (``kid``/``sig`` are added by the signer)."""
    clash = _FIELDS_SET.intersection(env.extra)
    if clash:
        raise ValueError(f"extra fields {sorted(clash)} shadow envelope fields")
    obj: dict[str, Any] = {}
    for name in _FIELDS:
        value = getattr(env, name)
        if value is not None:
            obj[name] = value
    obj.update(env.extra)
    return orjson.dumps(obj), _headers_for(env)


def _where(topic: str | None, offset: int | None) -> str:
    if topic is None and offset is None:
        return ""
    return f" ({topic or '?'}@{'?' if offset is None else offset})"


def decode(
    value: bytes | None,
    headers: Sequence[tuple[str, bytes]] | None = None,
    *,
    topic: str | None = None,
    offset: int | None = None,
) -> Envelope:
    """The envelope in one record; raises ``DecodeError`` on anything but a valid envelope."""
    where = _where(topic, offset)
    if value is None:
        raise DecodeError(f"record has no value (tombstone){where}")
    try:
        obj = orjson.loads(value)
    except orjson.JSONDecodeError as e:
        raise DecodeError(f"value is not JSON: {e}{where}") from None
    if type(obj) is not dict:
        raise DecodeError(f"value is JSON but not an object{where}")

    version = obj.get("v", None)
    if type(version) is not int or version < 1:
        raise DecodeError(f"field 'v' must be a schema version >= 1, got {version!r}{where}")
    if version > SCHEMA_VERSION:
        raise DecodeError(
            f"schema version {version} is newer than the supported {SCHEMA_VERSION}: "
            f"upgrade dc2dc on this side before consuming{where}"
        )
    missing = [name for name in _REQUIRED if name not in obj]
    if missing:
        raise DecodeError(f"missing required field(s) {', '.join(missing)}{where}")

    fields: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    for name, raw in obj.items():
        rule = _CHECKERS.get(name)
        if rule is None:
            extra[name] = raw
            continue
        check, optional = rule
        if raw is None and optional:
            continue
        try:
            fields[name] = check(raw)
        except TypeError as e:
            raise DecodeError(f"field {name!r} must be {e}, got {raw!r:.80}{where}") from None
    env = Envelope(**fields, extra=extra)
    _check_headers(env, headers, where)
    return env


def _check_headers(env: Envelope, headers: Sequence[tuple[str, bytes]] | None, where: str) -> None:
    # Consumers may route on headers alone, so a header that disagrees with the value is an
    # error rather than something to ignore. Headers are optional (e.g. a replayed dump).
    try:
        given = index_headers(headers)
    except DecodeError as e:
        raise DecodeError(f"{e}{where}") from None
    expected = dict(_headers_for(env))
    for name in (H_SHARD, H_SEQ, H_CHUNK):
        if name in given and given[name] != expected.get(name):
            raise DecodeError(
                f"header {name}={given[name]!r} contradicts the value "
                f"({'absent' if name not in expected else repr(expected[name])}){where}"
            )
