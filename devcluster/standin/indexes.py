"""Secondary index definitions and unique-constraint enforcement.

Only unique persistent (and hash/skiplist alias) indexes change write behaviour; the others are
stored definitions that round-trip through the API, inventory and WAL.
"""
from __future__ import annotations

from . import errors
from .model import Collection

_MISSING = object()
INDEX_TYPES = ("persistent", "hash", "skiplist", "ttl", "geo", "fulltext", "inverted", "zkd", "mdi",
               "mdi-prefixed", "vector")


def _value(doc: dict, path: str) -> object:
    value: object = doc
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return _MISSING
        value = value[part]
    return value


def index_key(index: dict, doc: dict) -> tuple | None:
    """The unique-map key of `doc`, or None when a sparse index does not cover it."""
    values = []
    for f in index["fields"]:
        v = _value(doc, f)
        if v is _MISSING:
            v = None
        if index.get("sparse") and v is None:
            return None
        values.append(_freeze(v))
    return tuple(values)


def _freeze(v: object) -> object:
    if isinstance(v, dict):
        return tuple(sorted((k, _freeze(x)) for k, x in v.items()))
    if isinstance(v, list):
        return ("__list__",) + tuple(_freeze(x) for x in v)
    if isinstance(v, bool):
        return ("__bool__", v)
    return v


def is_unique(index: dict) -> bool:
    return bool(index.get("unique")) and index["type"] in ("persistent", "hash", "skiplist")


def check_unique(coll: Collection, key: str, doc: dict, extra: dict[str, dict | None] | None = None) -> None:
    """Raise 1210 if `doc` (stored under `key`) collides in a unique index.

    `extra` are pending, not yet applied writes of a stream transaction (key -> doc or None)."""
    for index in coll.indexes:
        if not is_unique(index):
            continue
        ikey = index_key(index, doc)
        if ikey is None:
            continue
        holder = coll.unique[index["id"]].get(ikey)
        if holder is not None and holder != key and not (extra and holder in extra):
            raise _violation(index, holder)
        if extra:
            for other_key, other in extra.items():
                if other_key != key and other is not None and index_key(index, other) == ikey:
                    raise _violation(index, other_key)


def _violation(index: dict, holder: str) -> errors.ArangoError:
    return errors.ArangoError(
        errors.UNIQUE_CONSTRAINT_VIOLATED,
        f"unique constraint violated - in index {index['name']} of type {index['type']} over "
        f"'{', '.join(index['fields'])}'; conflicting key: {holder}", 409)


def on_put(coll: Collection, key: str, old: dict | None, new: dict) -> None:
    for index in coll.indexes:
        if not is_unique(index):
            continue
        table = coll.unique[index["id"]]
        if old is not None:
            okey = index_key(index, old)
            if okey is not None and table.get(okey) == key:
                del table[okey]
        nkey = index_key(index, new)
        if nkey is not None:
            table[nkey] = key


def on_delete(coll: Collection, key: str, old: dict) -> None:
    for index in coll.indexes:
        if not is_unique(index):
            continue
        okey = index_key(index, old)
        table = coll.unique[index["id"]]
        if okey is not None and table.get(okey) == key:
            del table[okey]


def build_unique(coll: Collection, index: dict) -> None:
    """Fill a new unique index from existing documents; a duplicate aborts the creation (1210)."""
    table: dict[tuple, str] = {}
    for shard in coll.shards:
        for key, doc in shard.docs.items():
            ikey = index_key(index, doc)
            if ikey is None:
                continue
            if ikey in table:
                raise _violation(index, key)
            table[ikey] = key
    coll.unique[index["id"]] = table
