"""Pending document changes of one request or one stream transaction, and their WAL records.

A plain request applies each change at once and logs one write batch per shard when it ends.
A stream transaction keeps its changes in an overlay that only it can see, and applies and logs
them at commit: RocksDB only writes committed transactions to the WAL.
"""
from __future__ import annotations

import orjson

from . import errors, indexes, wal as walmod
from .model import Cluster, Collection, Shard

_DELETED = None


class Writes:
    def __init__(self, cluster: Cluster, *, transactional: bool = False) -> None:
        self.cluster = cluster
        self.transactional = transactional
        self.overlay: dict[str, dict[str, dict | None]] = {}  # shard name -> key -> doc | deleted
        self.touched: dict[str, tuple[Collection, Shard]] = {}
        self.ops: dict[str, list[walmod.Op]] = {}

    def get(self, shard: Shard, key: str) -> dict | None:
        self.cluster.require_available(shard)
        pending = self.overlay.get(shard.name)
        if pending is not None and key in pending:
            return pending[key]
        return shard.docs.get(key)

    def pending(self, shard: Shard) -> dict[str, dict | None] | None:
        return self.overlay.get(shard.name)

    def check_unique(self, coll: Collection, shard: Shard, key: str, doc: dict) -> None:
        if not coll.unique:
            return
        extra: dict[str, dict | None] = {}
        for s in coll.shards:
            extra.update(self.overlay.get(s.name, {}))
        indexes.check_unique(coll, key, doc, extra or None)

    def put(self, coll: Collection, shard: Shard, key: str, doc: dict) -> None:
        self._touch(coll, shard, key)
        if self.transactional:
            self.overlay.setdefault(shard.name, {})[key] = doc
        else:
            old = shard.docs.get(key)
            shard.docs[key] = doc
            if coll.unique:
                indexes.on_put(coll, key, old, doc)
        self.ops[shard.name].append(walmod.Op(walmod.DOCUMENT_INSERT, coll.db.name, shard.cuid,
                                              shard.name, orjson.dumps(doc)))

    def delete(self, coll: Collection, shard: Shard, key: str, old: dict) -> None:
        self._touch(coll, shard, key)
        if self.transactional:
            self.overlay.setdefault(shard.name, {})[key] = _DELETED
        else:
            del shard.docs[key]
            if coll.unique:
                indexes.on_delete(coll, key, old)
        self.ops[shard.name].append(walmod.Op(
            walmod.DOCUMENT_REMOVE, coll.db.name, shard.cuid, shard.name,
            orjson.dumps({"_key": key, "_rev": old.get("_rev", "")})))

    def _touch(self, coll: Collection, shard: Shard, key: str) -> None:
        self.cluster.require_available(shard)
        self._check_conflict(shard, key)
        if shard.name not in self.touched:
            self.touched[shard.name] = (coll, shard)
            self.ops[shard.name] = []

    def _check_conflict(self, shard: Shard, key: str) -> None:
        """A document written by another running stream transaction is locked until it ends:
        RocksDB reports a write-write conflict (1200) instead of waiting."""
        for trx in self.cluster.transactions.values():
            other = trx.writes
            if other is not self and trx.holds_locks() and key in other.overlay.get(shard.name, ()):
                raise errors.ArangoError(errors.CONFLICT, "write-write conflict", 409)

    def commit(self) -> None:
        """Apply a transaction's overlay (no-op for plain requests) and log every shard's batch."""
        if self.transactional:
            for name, changes in self.overlay.items():
                coll, shard = self.touched[name]
                for key, doc in changes.items():
                    old = shard.docs.get(key)
                    if doc is None:
                        if old is not None:
                            del shard.docs[key]
                            if coll.unique:
                                indexes.on_delete(coll, key, old)
                    else:
                        shard.docs[key] = doc
                        if coll.unique:
                            indexes.on_put(coll, key, old, doc)
        self._log()
        self.overlay.clear()
        self.ops.clear()
        self.touched.clear()

    def _log(self) -> None:
        """A plain request is one write batch per shard (the coordinator sends each shard its
        part). A transaction is one local transaction per DBServer, spanning all of that
        server's shards, so each server logs a single batch under a single tid."""
        per_server: dict[str, list[walmod.Op]] = {}
        for name, ops in self.ops.items():
            coll, shard = self.touched[name]
            if not ops or coll.db.name not in self.cluster.databases or coll.db.collections.get(coll.name) is not coll:
                continue  # the collection was dropped meanwhile: nothing left to log it for
            if not self.transactional:
                self.cluster.log_shard(shard, ops)
                continue
            for server_id in shard.replicas():
                per_server.setdefault(server_id, []).extend(ops)
        for server_id, ops in per_server.items():
            server = self.cluster.servers[server_id]
            if server.running and server.wal is not None:
                server.wal.write_batch(ops, single_op_tid=False)

    def abort(self) -> None:
        self.overlay.clear()
        self.ops.clear()
        self.touched.clear()
