"""``dc2dc check sync``: do the source and the destination hold the same structure and data?

Works through each side's coordinator only (no DBServer access needed in the destination).
Structure: both sides' snapshots (pipeline.source.structure_read) compared after removing what is local to a
DC (collection ids, shard ids). Data: per shard, because dc2dc keeps shard counts equal and
ArangoDB places a key by hashing it over the shard count, so shard *i* of a collection in A holds
the same keys as shard *i* in B. A shard's digest is its document count and an order-independent
sum of per-document hashes (every attribute but ``_id``, which names the DC's collection), read
with AQL restricted to the shard (cursor option ``shardIds``).
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass, field
from typing import Any

import orjson

from dc2dc.pipeline.arango.http import ArangoHttp
from dc2dc.pipeline.arango.query import query
from dc2dc.pipeline.source.cluster import SourceCluster
from dc2dc.pipeline.source.structure_read import read_structure
from dc2dc.pipeline.structure_view import StructureView

_DIGEST_MOD = 1 << 128
# Differ per DC by design: collection identities and shard placement.
_LOCAL_COLLECTION_KEYS = ("cid", "shards")
# Each DC's superuser is its own: dc2dc never changes root in a destination.
_LOCAL_USERS = ("root",)


@dataclass(frozen=True)
class ShardDigest:
    count: int
    digest: int


@dataclass(frozen=True)
class ShardComparison:
    db: str
    coll: str
    index: int
    source_shard: str
    target_shard: str | None
    source: ShardDigest
    target: ShardDigest | None

    @property
    def in_sync(self) -> bool:
        return self.target is not None and self.source == self.target

    def as_dict(self) -> dict[str, Any]:
        return {"db": self.db, "collection": self.coll, "index": self.index, "source_shard": self.source_shard,
                "target_shard": self.target_shard, "source_count": self.source.count,
                "target_count": self.target.count if self.target else None, "in_sync": self.in_sync}


@dataclass
class CheckReport:
    structure_differences: list[str] = field(default_factory=list)
    shards: list[ShardComparison] = field(default_factory=list)

    @property
    def in_sync(self) -> bool:
        return not self.structure_differences and all(s.in_sync for s in self.shards)

    def as_dict(self) -> dict[str, Any]:
        return {"in_sync": self.in_sync, "structure_differences": self.structure_differences,
                "shards": [s.as_dict() for s in self.shards]}


def _comparable(view: StructureView) -> dict[str, Any]:
    databases = {}
    for db, spec in view.databases.items():
        collections = {name: {k: v for k, v in c.as_dict().items() if k not in _LOCAL_COLLECTION_KEYS}
                       for name, c in spec.collections.items()}
        databases[db] = {**spec.as_dict(), "collections": collections}
    users = {u: v for u, v in view.users.items() if u not in _LOCAL_USERS}
    return {"databases": databases, "users": users}


def diff(a: Any, b: Any, path: str = "") -> list[str]:
    """Human-readable differences between two JSON values (``path`` names where)."""
    if isinstance(a, dict) and isinstance(b, dict):
        out: list[str] = []
        for key in sorted(set(a) | set(b), key=str):
            where = f"{path}/{key}"
            if key not in b:
                out.append(f"{where}: only in source")
            elif key not in a:
                out.append(f"{where}: only in destination")
            else:
                out.extend(diff(a[key], b[key], where))
        return out
    return [] if a == b else [f"{path or '/'}: source {a!r} != destination {b!r}"]


def document_hash(doc: dict[str, Any]) -> int:
    body = {k: v for k, v in doc.items() if k != "_id"}
    return int.from_bytes(hashlib.blake2b(orjson.dumps(body, option=orjson.OPT_SORT_KEYS), digest_size=16).digest(), "big")


async def shard_digest(http: ArangoHttp, db: str, coll: str, shard: str | None) -> ShardDigest:
    """Digest of one shard, or of the whole collection when ``shard`` is None (a single server)."""
    count = total = 0
    options = {"shardIds": [shard]} if shard is not None else {}
    async for doc in query(http, "FOR d IN @@c RETURN d", db=db, bind_vars={"@c": coll}, options=options):
        count += 1
        total = (total + document_hash(doc)) % _DIGEST_MOD
    return ShardDigest(count, total)


async def compare(source: ArangoHttp, target: ArangoHttp) -> CheckReport:
    """Compare a source deployment with its destination, both given by a coordinator connection."""
    clusters = SourceCluster(source), SourceCluster(target)
    await asyncio.gather(*(c.detect() for c in clusters))
    src_structure, dst_structure = await asyncio.gather(*(read_structure(c) for c in clusters))
    # A single server's "shards" are its collections: compare them whole.
    src_restrict, dst_restrict = (not c.single for c in clusters)
    src_view, dst_view = src_structure.view, dst_structure.view
    report = CheckReport(structure_differences=diff(_comparable(src_view), _comparable(dst_view)))
    for db, spec in sorted(src_view.databases.items()):
        for coll, cspec in sorted(spec.collections.items()):
            dst_coll = dst_view.collection(db, coll)
            dst_shards = dst_coll.shards if dst_coll is not None else []
            for index, shard in enumerate(cspec.shards):
                dst_shard = dst_shards[index] if index < len(dst_shards) else None
                src_digest, dst_digest = await asyncio.gather(
                    shard_digest(source, db, coll, shard if src_restrict else None),
                    shard_digest(target, db, coll, dst_shard if dst_restrict else None)
                    if dst_shard else asyncio.sleep(0, None))
                report.shards.append(ShardComparison(db, coll, index, shard, dst_shard, src_digest, dst_digest))
    return report
