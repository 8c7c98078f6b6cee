"""Document keys: key generator options, new keys, and keeping generators ahead of user keys."""
from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from . import errors

if TYPE_CHECKING:
    from .model import Cluster, Collection


def key_options(opts: dict) -> dict:
    kind = opts.get("type", "traditional") or "traditional"
    if kind not in ("traditional", "autoincrement", "uuid", "padded"):
        raise errors.ArangoError(errors.INVALID_KEY_GENERATOR, "invalid key generator")
    out = {"type": kind, "allowUserKeys": bool(opts.get("allowUserKeys", True))}
    if kind == "autoincrement":
        out["increment"] = int(opts.get("increment", 1) or 1)
        out["offset"] = int(opts.get("offset", 0) or 0)
    return out


def new_key(cluster: Cluster, coll: Collection) -> str:
    opts = coll.props["keyOptions"]
    kind = opts["type"]
    if kind == "autoincrement":
        inc = opts.get("increment", 1) or 1
        off = opts.get("offset", 0) or 0
        value = max(coll.key_last + inc, off) if coll.key_last else max(off, inc)
        coll.key_last = value
        return str(value)
    if kind == "uuid":
        return str(uuid.uuid4())
    value = cluster.key_counter.next()
    coll.key_last = max(coll.key_last, value)
    if kind == "padded":
        return f"{value:016x}"
    return str(value)


def witness_key(cluster: Cluster, coll: Collection, key: str) -> None:
    """Keep generated keys above user-supplied numeric ones, like ArangoDB's generators."""
    kind = coll.props["keyOptions"]["type"]
    if kind in ("traditional", "autoincrement") and key.isdigit() and len(key) < 19:
        value = int(key)
        if value > coll.key_last:
            coll.key_last = value
        if kind == "traditional" and value > cluster.key_counter.last:
            cluster.key_counter.last = value
