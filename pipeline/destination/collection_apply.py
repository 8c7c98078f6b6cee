"""Collections and their indexes in the destination: drops, renames, creates and changes.

A collection is identified by its source id (``cid``), not its name:

* a ``cid`` the new snapshot no longer has was dropped in the source (a name re-created with a new
  ``cid`` is such a drop too, which also voids the old data);
* a ``cid`` under another name was renamed in the source (single servers can rename, clusters
  cannot): it is renamed here, with its documents, never dropped and re-created empty. Names that
  swap are freed by parking one collection under a name of its own first. A destination that
  cannot rename (a cluster, fed by a single server) gets the documents copied under the new name.

Collections are created with the source's ``numberOfShards``, ``shardKeys`` and
``shardingStrategy``: the destination shard at index *i* then holds exactly the keys of the source
shard at index *i*, which per-shard truncate and resync rely on.
"""

from __future__ import annotations

import dataclasses
import hashlib
from typing import Any

from dc2dc.pipeline.arango import errno
from dc2dc.pipeline.arango.query import query
from dc2dc.pipeline.destination.document_apply import DocumentWriter, Target
from dc2dc.pipeline.errors import ArangoError
from dc2dc.pipeline.destination.structure_requests import StructureClient, StructureError, differs
from dc2dc.pipeline.snapshot import is_system
from dc2dc.pipeline.structure_view import CollectionView

# Properties the collection API accepts on create; the rest of a source definition is internal.
_CREATE_PROPS = ("waitForSync", "schema", "keyOptions", "computedValues", "cacheEnabled", "numberOfShards",
                 "shardKeys", "replicationFactor", "writeConcern", "shardingStrategy")
# Properties PUT /_api/collection/<c>/properties can change later.
_CHANGEABLE_PROPS = ("waitForSync", "schema", "computedValues", "cacheEnabled", "replicationFactor", "writeConcern")
# Properties that must match for the shard-by-shard mapping to hold.
_FIXED_PROPS = ("numberOfShards", "shardKeys", "shardingStrategy")
_IMPLICIT_INDEXES = frozenset({"primary", "edge"})
_INDEX_VOLATILE = frozenset({"id", "name", "inBackground", "selectivityEstimate", "figures", "isNewlyCreated"})

_COPY_BATCH = 1000

Collections = dict[str, CollectionView]


def _parking_name(collection_id: str) -> str:
    """A free name for one side of a name swap (a letter first, then only safe characters)."""
    return "dc2dcRename" + hashlib.blake2b(collection_id.encode(), digest_size=8).hexdigest()


class CollectionApplier:
    """The collection part of a structure apply, for every database of one destination."""

    def __init__(self, client: StructureClient) -> None:
        self._client = client
        self._writer = DocumentWriter(client.http)
        # (db, source cid) -> id of the destination collection it was last seen as: an apply
        # retried after some renames must not rename them again, least of all a swap.
        self._placed: dict[tuple[str, str], str] = {}

    async def existing(self, db: str) -> dict[str, dict[str, Any]]:
        """The destination's non-system collections of ``db`` by name."""
        result = (await self._client.get("/_api/collection", db=db, params={"excludeSystem": True}))["result"]
        return {c["name"]: c for c in result if not is_system(c["name"])}

    async def drop_and_rename(self, db: str, old: Collections, new: Collections) -> Collections:
        """Phase 1 for ``db``: drops, renames, dropped indexes; the collections kept from ``old``, by their new names."""
        have = await self.existing(db)
        wanted = {c.cid: name for name, c in new.items()}
        where = self._locate(db, old, have)
        for cid, name in where.items():
            self._placed[(db, cid)] = str(have[name].get("id"))
        for cid, name in where.items():
            if cid not in wanted:
                await self._client.change("DELETE", f"/_api/collection/{name}", f"drop collection {db}/{name}",
                                          db=db, ok={errno.ARANGO_DATA_SOURCE_NOT_FOUND})
                have.pop(name)
        await self._rename(db, {cid: name for cid, name in where.items() if cid in wanted}, old, wanted, have)
        current = {wanted[c.cid]: c for c in old.values() if c.cid in wanted}
        for name, coll in current.items():
            if name in have:
                gone = {i.get("name") for i in coll.indexes} - {i.get("name") for i in new[name].indexes}
                for index in await self._indexes(db, name) if gone else []:
                    if index.get("name") in gone:
                        await self._drop_index(db, name, index)
        return current

    def _locate(self, db: str, old: Collections, have: dict[str, dict[str, Any]]) -> dict[str, str]:
        """Source cid -> its name in the destination now: where this applier last put it (by the
        destination's collection id: an apply retried after some renames must not rename or drop
        by stale names), else the name the previous snapshot gave it."""
        by_id = {str(info.get("id")): name for name, info in have.items()}
        where = {c.cid: by_id[self._placed[(db, c.cid)]] for c in old.values()
                 if self._placed.get((db, c.cid)) in by_id}
        claimed = set(where.values())
        for name, coll in old.items():
            if coll.cid not in where and name in have and name not in claimed:
                where[coll.cid] = name
        return where

    async def _rename(self, db: str, where: dict[str, str], old: Collections, wanted: dict[str, str],
                      have: dict[str, dict[str, Any]]) -> None:
        """Rename each collection of ``where`` to its ``wanted`` name; ``have`` is kept up to date."""
        moves = {where[cid]: wanted[cid] for cid in where if cid in wanted and where[cid] != wanted[cid]}
        spec_at = {where[c.cid]: c for c in old.values() if c.cid in where}
        while moves:
            ready = [(frm, to) for frm, to in moves.items() if to not in have]
            if not ready:
                frm = next((to for to in moves.values() if to in moves), None)
                if frm is None:
                    taken = ", ".join(sorted(moves.values()))
                    raise StructureError(f"{db}: cannot rename to {taken}: the destination has another collection "
                                         "of that name; drop or rename it in the destination, then restart")
                ready = [(frm, _parking_name(str(have[frm].get("id"))))]
                moves[ready[0][1]] = moves[frm]
                spec_at[ready[0][1]] = spec_at[frm]
            for frm, to in ready:
                have[to] = await self._move(db, frm, to, spec_at[frm])
                have.pop(frm)
                self._placed[(db, spec_at[frm].cid)] = str(have[to].get("id"))
                moves.pop(frm)

    async def _move(self, db: str, frm: str, to: str, coll: CollectionView) -> dict[str, Any]:
        """Rename ``frm`` to ``to``; the destination's description of ``to`` afterwards."""
        try:
            await self._client.change("PUT", f"/_api/collection/{frm}/rename", f"rename collection {db}/{frm} to {to}",
                                      db=db, json={"name": to})
        except ArangoError as exc:
            if exc.error_num != errno.CLUSTER_UNSUPPORTED:
                raise
            await self._copy(db, frm, to, coll)
        return dict(await self._client.get(f"/_api/collection/{to}", db=db))

    async def _copy(self, db: str, frm: str, to: str, coll: CollectionView) -> None:
        """A rename where the destination cannot rename (a cluster): copy the documents with their
        ``_key`` and ``_rev``, then drop the old name. Shard steps wait meanwhile (the structure gate)."""
        await self._create(db, dataclasses.replace(coll, name=to))
        target, batch = Target(db, to, None), []
        async for doc in query(self._client.http, "FOR d IN @@c RETURN d", db=db, bind_vars={"@c": frm}):
            batch.append(doc)
            if len(batch) >= _COPY_BATCH:
                await self._writer.upsert(target, batch)
                batch = []
        if batch:
            await self._writer.upsert(target, batch)
        await self._client.change("DELETE", f"/_api/collection/{frm}", f"drop collection {db}/{frm} (copied to {to})",
                                  db=db, ok={errno.ARANGO_DATA_SOURCE_NOT_FOUND})

    async def create_and_change(self, db: str, want: Collections, old: Collections) -> None:
        """Phase 2 for ``db``: missing collections created, changed properties and indexes applied."""
        have = await self.existing(db)
        for name, coll in want.items():
            if name not in have:
                await self._create(db, coll)
            else:
                await self._align(db, coll, adopted=name not in old)
            await self._apply_indexes(db, name, coll.indexes)

    async def _create(self, db: str, coll: CollectionView) -> None:
        body: dict[str, Any] = {"name": coll.name, "type": coll.type}
        for key in _CREATE_PROPS:
            if coll.properties.get(key) is not None:
                body[key] = coll.properties[key]
        if isinstance(body.get("keyOptions"), dict):
            body["keyOptions"] = {k: v for k, v in body["keyOptions"].items() if k != "lastValue"}
        # The destination may have fewer DBServers than the source for a while; create anyway.
        await self._client.change("POST", "/_api/collection", f"create collection {db}/{coll.name}", db=db,
                                  json=body, params={"enforceReplicationFactor": False},
                                  ok={errno.ARANGO_DUPLICATE_NAME})

    async def _align(self, db: str, coll: CollectionView, adopted: bool) -> None:
        name, props = coll.name, coll.properties
        actual = await self._client.get(f"/_api/collection/{name}/properties", db=db)
        fixed = differs(actual, props, _FIXED_PROPS)
        if fixed or ("type" in actual and actual["type"] != coll.type):
            why = "it existed before replication" if adopted else "it changed outside dc2dc"
            raise StructureError(
                f"{db}/{name} in the destination has other {', '.join(fixed) or 'type'} than the source "
                f"({why}); drop or rename it in the destination, then restart")
        changed = differs(actual, props, _CHANGEABLE_PROPS)
        if changed:
            await self._client.change("PUT", f"/_api/collection/{name}/properties",
                                      f"change {', '.join(changed)} of collection {db}/{name}", db=db,
                                      json={k: props[k] for k in changed})

    async def _indexes(self, db: str, coll: str) -> list[dict[str, Any]]:
        result = (await self._client.get("/_api/index", db=db, params={"collection": coll}))["indexes"]
        return [i for i in result if i.get("type") not in _IMPLICIT_INDEXES]

    async def _drop_index(self, db: str, coll: str, index: dict[str, Any]) -> None:
        index_id = str(index["id"]).split("/")[-1]
        await self._client.change("DELETE", f"/_api/index/{coll}/{index_id}",
                                  f"drop index {db}/{coll}/{index.get('name')}", db=db,
                                  ok={errno.ARANGO_INDEX_NOT_FOUND})

    async def _apply_indexes(self, db: str, coll: str, wanted: list[dict[str, Any]]) -> None:
        if not wanted:
            return
        have = {i.get("name"): i for i in await self._indexes(db, coll)}
        for spec in wanted:
            body = {k: v for k, v in spec.items() if k != "id"}
            current = have.get(body.get("name"))
            if current is not None:
                compare = {k: v for k, v in body.items() if k not in _INDEX_VOLATILE}
                if not differs(current, compare):
                    continue
                await self._drop_index(db, coll, current)   # indexes cannot be changed in place
            await self._client.change("POST", "/_api/index", f"create index {db}/{coll}/{body.get('name')}",
                                      db=db, params={"collection": coll}, json=body)
