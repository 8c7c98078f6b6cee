"""Document operations of a collection, spanning its shards the way a coordinator does.

Each function takes a list of inputs and returns one result per input: a dict (the meta data,
plus `old`/`new` when asked) or an ArangoError for that item, so array requests can report
per-item errors while the others succeed.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from . import computed, errors, keys, sharding, validation, wal as walmod
from .ids import decode_rev
from .model import EDGE, Cluster, Collection, Shard
from .writes import Writes

_KEY = re.compile(r"^[a-zA-Z0-9_\-:.@()+,=;$!*'%]{1,254}$")
_SYSTEM_ATTRS = ("_key", "_id", "_rev", "_from", "_to")


@dataclass
class WriteOptions:
    overwrite_mode: str = "conflict"   # insert only: conflict|replace|update|ignore
    keep_null: bool = True
    merge_objects: bool = True
    ignore_revs: bool = True
    is_restore: bool = False
    return_new: bool = False
    return_old: bool = False
    if_match: str | None = None        # single-document precondition (If-Match header)
    version_attribute: str | None = None


Result = dict | errors.ArangoError


def valid_key(key: object) -> bool:
    return isinstance(key, str) and bool(_KEY.match(key))


def locate(cluster: Cluster, coll: Collection, key: str, writes: Writes) -> tuple[Shard, dict | None]:
    """The shard holding `key` and the document (None if absent)."""
    if coll.shard_keys == ["_key"]:
        shard = coll.shards[sharding.shard_index({"_key": key}, ["_key"], len(coll.shards))]
        return shard, writes.get(shard, key)
    for shard in coll.shards:
        doc = writes.get(shard, key)
        if doc is not None:
            return shard, doc
    return coll.shards[0], None


def _meta(coll: Collection, doc: dict) -> dict:
    return {"_id": doc["_id"], "_key": doc["_key"], "_rev": doc["_rev"]}


def _result(coll: Collection, new: dict | None, old: dict | None, opts: WriteOptions) -> dict:
    base = new if new is not None else old
    out = _meta(coll, base)
    if new is not None and old is not None:
        out["_oldRev"] = old["_rev"]
    if opts.return_new and new is not None:
        out["new"] = new
    if opts.return_old and old is not None:
        out["old"] = old
    return out


def _check_edge(coll: Collection, doc: dict) -> None:
    if coll.type != EDGE:
        return
    for attr in ("_from", "_to"):
        value = doc.get(attr)
        if not isinstance(value, str) or "/" not in value or not value.split("/", 1)[0] \
                or not valid_key(value.split("/", 1)[1]):
            raise errors.ArangoError(errors.INVALID_EDGE_ATTRIBUTE, "invalid edge attribute")


def _revision(cluster: Cluster, body: dict, opts: WriteOptions) -> str:
    if opts.is_restore:
        rev = body.get("_rev")
        if isinstance(rev, str) and rev:
            try:
                cluster.hlc.witness(decode_rev(rev))
                return rev
            except ValueError:
                pass
    return cluster.hlc.next_rev()


def _precondition(old: dict, body: dict | None, opts: WriteOptions) -> None:
    expected = opts.if_match
    if expected is None and not opts.ignore_revs and body is not None:
        rev = body.get("_rev")
        if isinstance(rev, str) and rev:
            expected = rev
    if expected is not None and expected != old["_rev"]:
        err = errors.ArangoError(errors.CONFLICT, "conflict, _rev values do not match", 412)
        err.current = _meta_plain(old)  # type: ignore[attr-defined]
        raise err


def _meta_plain(doc: dict) -> dict:
    return {"_id": doc["_id"], "_key": doc["_key"], "_rev": doc["_rev"]}


def _skip_by_version(old: dict, new: dict, attr: str | None) -> bool:
    """versionAttribute: only a strictly higher numeric version replaces the stored document."""
    if not attr:
        return False
    ov, nv = old.get(attr), new.get(attr)
    if isinstance(ov, (int, float)) and not isinstance(ov, bool):
        if not isinstance(nv, (int, float)) or isinstance(nv, bool):
            return True
        return nv <= ov
    return False


def insert(cluster: Cluster, coll: Collection, items: list, opts: WriteOptions, writes: Writes) -> list[Result]:
    return [_one(lambda item=item: _insert_one(cluster, coll, item, opts, writes)) for item in items]


def _one(fn) -> Result:  # type: ignore[no-untyped-def]
    try:
        return fn()
    except errors.ArangoError as err:
        return err


def _insert_one(cluster: Cluster, coll: Collection, body: object, opts: WriteOptions, writes: Writes) -> dict:
    if not isinstance(body, dict):
        raise errors.ArangoError(errors.DOCUMENT_TYPE_INVALID, "invalid document type")
    key = body.get("_key")
    if key is None:
        key = keys.new_key(cluster, coll)
    else:
        if not valid_key(key):
            raise errors.ArangoError(errors.DOCUMENT_KEY_BAD, "illegal document key")
        if not coll.props["keyOptions"]["allowUserKeys"] and not opts.is_restore:
            raise errors.ArangoError(errors.DOCUMENT_KEY_UNEXPECTED, "must not specify _key for this collection")
        if cluster.is_cluster and coll.shard_keys != ["_key"] and len(coll.shards) > 1 and not opts.is_restore:
            raise errors.ArangoError(1466, "must not specify _key for this collection")
        keys.witness_key(cluster, coll, key)
    doc = {k: v for k, v in body.items() if k not in ("_id", "_rev", "_key", "_oldRev")}
    _check_edge(coll, body)
    shard = coll.shards[sharding.shard_index({**body, "_key": key}, coll.shard_keys, len(coll.shards))]
    old = writes.get(shard, key)
    if old is not None:
        mode = opts.overwrite_mode
        if mode == "conflict":
            raise errors.ArangoError(
                errors.UNIQUE_CONSTRAINT_VIOLATED,
                f"unique constraint violated - in index primary of type primary over '_key'; conflicting key: {key}",
                409)
        if mode == "ignore":
            return _meta(coll, old)
        if mode == "update":
            return _update_existing(cluster, coll, shard, old, body, opts, writes)
        return _replace_existing(cluster, coll, shard, old, body, opts, writes)
    new = {"_key": key, "_id": f"{coll.name}/{key}", "_rev": _revision(cluster, body, opts), **doc}
    if coll.type == EDGE:
        new["_from"], new["_to"] = body["_from"], body["_to"]
    if not opts.is_restore:
        new = computed.apply(coll.props["computedValues"], new, "insert")
        validation.check(coll.props["schema"], new, None)
    writes.check_unique(coll, shard, key, new)
    writes.put(coll, shard, key, new)
    return _result(coll, new, None, opts)


def _replace_existing(cluster: Cluster, coll: Collection, shard: Shard, old: dict, body: dict,
                      opts: WriteOptions, writes: Writes) -> dict:
    _precondition(old, body, opts)
    key = old["_key"]
    new = {"_key": key, "_id": old["_id"], "_rev": "",
           **{k: v for k, v in body.items() if k not in _SYSTEM_ATTRS and k != "_oldRev"}}
    if coll.type == EDGE:
        _check_edge(coll, body)
        new["_from"], new["_to"] = body["_from"], body["_to"]
    sharding.check_unchanged(old, new, coll.shard_keys)
    if _skip_by_version(old, new, opts.version_attribute):
        return _result(coll, old, old, opts)
    new["_rev"] = _revision(cluster, body, opts)
    if not opts.is_restore:
        new = computed.apply(coll.props["computedValues"], new, "replace")
        validation.check(coll.props["schema"], new, old)
    writes.check_unique(coll, shard, key, new)
    writes.put(coll, shard, key, new)
    return _result(coll, new, old, opts)


def _merge(old: dict, patch: dict, keep_null: bool, merge_objects: bool) -> dict:
    out = dict(old)
    for k, v in patch.items():
        if v is None and not keep_null:
            out.pop(k, None)
        elif merge_objects and isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _merge(out[k], v, keep_null, merge_objects)
        elif isinstance(v, dict) and not keep_null:
            out[k] = _strip_nulls(v)
        else:
            out[k] = v
    return out


def _strip_nulls(value: dict) -> dict:
    return {k: (_strip_nulls(v) if isinstance(v, dict) else v) for k, v in value.items() if v is not None}


def _update_existing(cluster: Cluster, coll: Collection, shard: Shard, old: dict, body: dict,
                     opts: WriteOptions, writes: Writes) -> dict:
    _precondition(old, body, opts)
    key = old["_key"]
    patch = {k: v for k, v in body.items() if k not in ("_key", "_id", "_rev", "_oldRev")}
    new = _merge(old, patch, opts.keep_null, opts.merge_objects)
    if coll.type == EDGE:
        _check_edge(coll, new)
    sharding.check_unchanged(old, new, coll.shard_keys)
    if _skip_by_version(old, new, opts.version_attribute):
        return _result(coll, old, old, opts)
    new["_rev"] = _revision(cluster, body, opts)
    if not opts.is_restore:
        new = computed.apply(coll.props["computedValues"], new, "update")
        validation.check(coll.props["schema"], new, old)
    writes.check_unique(coll, shard, key, new)
    writes.put(coll, shard, key, new)
    return _result(coll, new, old, opts)


def key_of(item: object, coll: Collection, given_key: str | None) -> str:
    if given_key is not None:
        return given_key
    if isinstance(item, dict):
        key = item.get("_key")
        if key is None and isinstance(item.get("_id"), str) and "/" in item["_id"]:
            key = item["_id"].split("/", 1)[1]
    elif isinstance(item, str):
        key = item.split("/", 1)[1] if "/" in item else item
    else:
        raise errors.ArangoError(errors.DOCUMENT_TYPE_INVALID, "invalid document type")
    if key is None:
        raise errors.ArangoError(errors.DOCUMENT_HANDLE_BAD, "invalid document handle")
    if not valid_key(key):
        raise errors.ArangoError(errors.DOCUMENT_HANDLE_BAD, "invalid document handle")
    return key


def _not_found() -> errors.ArangoError:
    return errors.ArangoError(errors.DOCUMENT_NOT_FOUND, "document not found")


def _modify_existing(cluster: Cluster, coll: Collection, items: list, opts: WriteOptions, writes: Writes,
                     key: str | None, change: Callable[..., dict]) -> list[Result]:
    """Replace or update: each item must name an existing document, which ``change`` rewrites."""
    def one(item: object) -> dict:
        if not isinstance(item, dict):
            raise errors.ArangoError(errors.DOCUMENT_TYPE_INVALID, "invalid document type")
        k = key_of(item, coll, key)
        shard, old = locate(cluster, coll, k, writes)
        if old is None:
            raise _not_found()
        return change(cluster, coll, shard, old, item, opts, writes)
    return [_one(lambda item=item: one(item)) for item in items]


def replace(cluster: Cluster, coll: Collection, items: list, opts: WriteOptions, writes: Writes,
            key: str | None = None) -> list[Result]:
    return _modify_existing(cluster, coll, items, opts, writes, key, _replace_existing)


def update(cluster: Cluster, coll: Collection, items: list, opts: WriteOptions, writes: Writes,
           key: str | None = None) -> list[Result]:
    return _modify_existing(cluster, coll, items, opts, writes, key, _update_existing)


def remove(cluster: Cluster, coll: Collection, items: list, opts: WriteOptions, writes: Writes,
           key: str | None = None) -> list[Result]:
    def one(item: object) -> dict:
        k = key_of(item, coll, key)
        shard, old = locate(cluster, coll, k, writes)
        if old is None:
            raise _not_found()
        _precondition(old, item if isinstance(item, dict) else None, opts)
        writes.delete(coll, shard, k, old)
        out = _meta(coll, old)
        if opts.return_old:
            out["old"] = old
        return out
    return [_one(lambda item=item: one(item)) for item in items]


def truncate(cluster: Cluster, coll: Collection) -> None:
    for shard in coll.shards:
        cluster.require_available(shard)
    for shard in coll.shards:
        shard.docs.clear()
        cluster.log_shard(shard, [walmod.Op(walmod.COLLECTION_TRUNCATE, coll.db.name, shard.cuid, shard.name)])
    for table in coll.unique.values():
        table.clear()
