"""A typed view of a structure snapshot, the body of a control record (``ARCHITECTURE.md`` section 5).

The wire format is the plain dict: ``{"databases": {db: {"options", "collections": {name: {"cid",
"type", "properties", "shards", "indexes"}}, "views", "analyzers", "graphs"}}, "users": {...}}``.
Structure read builds its snapshots from these classes, structure apply, check and the destination's
shard locations read them through ``StructureView.parse``; ``as_snapshot`` gives the same dict back, so
a snapshot survives ``parse`` / ``as_snapshot`` unchanged. Views, analyzers, graphs and users stay
JSON objects: they are handed to ArangoDB's APIs as they are.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

DOCUMENT_COLLECTION = 2


@dataclass(frozen=True)
class CollectionView:
    """One replicated collection: its source identity (``cid``), definition and source shards in hash-slot order."""

    name: str
    cid: str
    type: int = DOCUMENT_COLLECTION
    properties: dict[str, Any] = field(default_factory=dict)
    shards: list[str] = field(default_factory=list)
    indexes: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def parse(cls, name: str, raw: dict[str, Any]) -> CollectionView:
        return cls(name=name, cid=str(raw.get("cid") or ""), type=raw.get("type", DOCUMENT_COLLECTION),
                   properties=dict(raw.get("properties") or {}), shards=list(raw.get("shards") or []),
                   indexes=list(raw.get("indexes") or []))

    def as_dict(self) -> dict[str, Any]:
        return {"cid": self.cid, "type": self.type, "properties": self.properties, "shards": self.shards,
                "indexes": self.indexes}


@dataclass
class DatabaseView:
    """One database of a snapshot."""

    options: dict[str, Any] = field(default_factory=dict)
    collections: dict[str, CollectionView] = field(default_factory=dict)
    views: dict[str, dict[str, Any]] = field(default_factory=dict)
    analyzers: dict[str, dict[str, Any]] = field(default_factory=dict)
    graphs: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def parse(cls, raw: dict[str, Any] | None) -> DatabaseView:
        raw = raw or {}
        return cls(options=raw.get("options") or {},
                   collections={n: CollectionView.parse(n, c) for n, c in (raw.get("collections") or {}).items()},
                   views=raw.get("views") or {}, analyzers=raw.get("analyzers") or {}, graphs=raw.get("graphs") or {})

    def as_dict(self) -> dict[str, Any]:
        return {"options": self.options, "collections": {n: c.as_dict() for n, c in self.collections.items()},
                "views": self.views, "analyzers": self.analyzers, "graphs": self.graphs}


@dataclass(frozen=True)
class ShardLocation:
    """Where a source shard's documents live: ``index`` of the collection's ``count`` shards."""

    db: str
    coll: str
    index: int
    count: int


@dataclass
class StructureView:
    """A whole snapshot: databases by name, users by name."""

    databases: dict[str, DatabaseView] = field(default_factory=dict)
    users: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def parse(cls, snapshot: dict[str, Any] | None) -> StructureView:
        snapshot = snapshot or {}
        return cls(databases={n: DatabaseView.parse(d) for n, d in (snapshot.get("databases") or {}).items()},
                   users=snapshot.get("users") or {})

    def as_snapshot(self) -> dict[str, Any]:
        return {"databases": {n: d.as_dict() for n, d in self.databases.items()}, "users": self.users}

    def collection(self, db: str, name: str) -> CollectionView | None:
        database = self.databases.get(db)
        return database.collections.get(name) if database is not None else None

    def shard_locations(self) -> dict[str, ShardLocation]:
        """Source shard id -> where its collection is in this snapshot (what the destination writes to)."""
        return {shard: ShardLocation(db, coll.name, index, len(coll.shards))
                for db, database in self.databases.items()
                for coll in database.collections.values()
                for index, shard in enumerate(coll.shards)}
