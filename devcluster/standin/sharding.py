"""Which shard a document belongs to.

Deterministic across processes and clusters: the same collection shape (shard keys, number of
shards) sends the same key to the same shard *index* in any stand-in, which is what a
DC-to-DC replicator relies on when it maps source shards to destination shards by index.
"""
from __future__ import annotations

import hashlib

import orjson

from . import errors


def shard_index(doc: dict, shard_keys: list[str], number_of_shards: int) -> int:
    if number_of_shards == 1:
        return 0
    values = [_attribute(doc, key) for key in shard_keys]
    digest = hashlib.blake2b(orjson.dumps(values, option=orjson.OPT_SORT_KEYS), digest_size=8).digest()
    return int.from_bytes(digest, "big") % number_of_shards


def has_all_shard_keys(doc: dict, shard_keys: list[str]) -> bool:
    return all(_attribute(doc, key, missing=_MISSING) is not _MISSING for key in shard_keys)


def check_unchanged(old: dict, new: dict, shard_keys: list[str]) -> None:
    for key in shard_keys:
        if key == "_key":
            continue
        if _attribute(old, key) != _attribute(new, key):
            raise errors.ArangoError(errors.CLUSTER_MUST_NOT_CHANGE_SHARDING_ATTRIBUTES,
                                     "must not change the value of a shard key attribute")


_MISSING = object()


def _attribute(doc: dict, path: str, missing: object = None) -> object:
    value: object = doc
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return missing
        value = value[part]
    return value
