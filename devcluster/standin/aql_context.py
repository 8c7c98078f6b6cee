"""The stand-in's storage as the AQL evaluator sees it (aql.AqlContext over the model).

A query runs in its own transactional Writes: it reads the data as of its start, its writes
become visible and are logged (one write batch per shard, with begin/commit markers) only when
the whole query succeeded. Inside a stream transaction it uses that transaction's Writes.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from . import documents, errors, perms
from .aql import AqlError
from .auth import Principal
from .documents import WriteOptions
from .model import Cluster, Collection, Database
from .writes import Writes


class StandinAqlContext:
    def __init__(self, cluster: Cluster, db: Database, writes: Writes, who: Principal,
                 shard_ids: list[str] | None) -> None:
        self.cluster = cluster
        self.db = db
        self.writes = writes
        self.who = who
        self.shard_ids = shard_ids
        self.writes_executed = 0

    def _coll(self, name: str, level: str = "ro") -> Collection:
        coll = self.db.collections.get(name)
        if coll is None:
            raise AqlError(errors.DATA_SOURCE_NOT_FOUND, f"AQL: collection or view not found: {name} (while parsing)", 404)
        perms.require_collection(self.cluster, self.who, self.db.name, coll.name, level)
        return coll

    def iter_documents(self, collection: str, shard_ids: list[str] | None = None) -> Iterable[dict]:
        coll = self._coll(collection)
        wanted = shard_ids if shard_ids is not None else self.shard_ids
        for shard in coll.shards:
            if wanted is not None and shard.name not in wanted:
                continue
            self.cluster.require_available(shard)
            pending = self.writes.pending(shard) if self.writes.transactional else None
            if not pending:
                yield from list(shard.docs.values())
                continue
            for key, doc in list(shard.docs.items()):
                if key not in pending:
                    yield doc
            yield from [doc for doc in pending.values() if doc is not None]

    def count(self, collection: str) -> int:
        coll = self._coll(collection)
        return sum(1 for _ in self.iter_documents(coll.name)) if self.writes.overlay else coll.count()

    def indexes(self, collection: str) -> list[dict]:
        return self._coll(collection).indexes

    @staticmethod
    def _options(options: dict) -> WriteOptions:
        return WriteOptions(
            overwrite_mode=options.get("overwriteMode") or ("replace" if options.get("overwrite") else "conflict"),
            keep_null=options.get("keepNull", True) is not False,
            merge_objects=options.get("mergeObjects", True) is not False,
            ignore_revs=options.get("ignoreRevs", True) is not False,
            return_new=bool(options.get("returnNew")), return_old=bool(options.get("returnOld")),
            version_attribute=options.get("versionAttribute"))

    def _unwrap(self, result: object) -> dict:
        if isinstance(result, errors.ArangoError):
            raise result
        assert isinstance(result, dict)
        self.writes_executed += 1
        return result

    async def insert(self, collection: str, doc: dict, options: dict) -> dict:
        coll = self._coll(collection, "rw")
        return self._unwrap(documents.insert(self.cluster, coll, [doc], self._options(options), self.writes)[0])

    async def update(self, collection: str, key_or_doc: Any, changes: dict, options: dict) -> dict:
        coll = self._coll(collection, "rw")
        key = key_or_doc if isinstance(key_or_doc, str) else key_or_doc["_key"]
        return self._unwrap(documents.update(self.cluster, coll, [changes], self._options(options),
                                             self.writes, key)[0])

    async def replace(self, collection: str, key_or_doc: Any, doc: dict, options: dict) -> dict:
        coll = self._coll(collection, "rw")
        key = key_or_doc if isinstance(key_or_doc, str) else key_or_doc["_key"]
        return self._unwrap(documents.replace(self.cluster, coll, [doc], self._options(options),
                                              self.writes, key)[0])

    async def remove(self, collection: str, key_or_doc: Any, options: dict) -> dict:
        coll = self._coll(collection, "rw")
        key = key_or_doc if isinstance(key_or_doc, str) else key_or_doc["_key"]
        return self._unwrap(documents.remove(self.cluster, coll, [key_or_doc], self._options(options),
                                             self.writes, key)[0])
