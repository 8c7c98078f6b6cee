"""Replication batches: snapshot contexts pinned on one server, with dump iterators."""
from __future__ import annotations

import time
from dataclasses import dataclass, field

from . import errors
from .model import Cluster, Server, Shard

DEFAULT_TTL = 300.0


@dataclass
class DumpCursor:
    docs: list[dict]
    offset: int = 0
    chunks: int = 0


@dataclass
class Batch:
    id: str
    last_tick: int
    expires: float
    ttl: float
    # shard name -> the shard's documents at batch creation (dicts are never mutated in place)
    snapshot: dict[str, dict[str, dict]] = field(default_factory=dict)
    dumps: dict[str, DumpCursor] = field(default_factory=dict)


def local_shards(cluster: Cluster, server: Server) -> list[tuple[str, Shard]]:
    """(database name, shard) for every shard this server holds as leader or follower."""
    out = []
    for db in cluster.databases.values():
        for coll in db.collections.values():
            for shard in coll.shards:
                if server.id in shard.replicas():
                    out.append((db.name, shard))
    return out


def create(cluster: Cluster, server: Server, ttl: float | None) -> Batch:
    ttl = ttl if ttl and ttl > 0 else DEFAULT_TTL
    assert server.wal is not None
    batch = Batch(str(cluster.ids.next()), server.wal.last_tick, time.time() + ttl, ttl)
    for _db, shard in local_shards(cluster, server):
        batch.snapshot[shard.name] = dict(shard.docs)
    _expire(server)
    server.batches[batch.id] = batch
    return batch


def get(server: Server, batch_id: str | None) -> Batch:
    _expire(server)
    batch = server.batches.get(batch_id or "")
    if batch is None:
        raise errors.ArangoError(errors.CURSOR_NOT_FOUND, "replication context not found", 404)
    return batch


def extend(server: Server, batch_id: str, ttl: float | None) -> None:
    batch = get(server, batch_id)
    if ttl and ttl > 0:
        batch.ttl = ttl
    batch.expires = time.time() + batch.ttl


def delete(server: Server, batch_id: str) -> None:
    get(server, batch_id)
    del server.batches[batch_id]


def _expire(server: Server) -> None:
    now = time.time()
    for bid in [b for b, batch in server.batches.items() if batch.expires < now]:
        del server.batches[bid]
