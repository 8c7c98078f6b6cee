"""Which shard a WAL marker belongs to: ``(database, cuid)`` -> shard id, per data server.

WAL markers name their collection only by ``cuid`` (the local collection's globallyUniqueId),
whose format is not a contract (spec section 5.4), so it is never parsed. The map is learnt
from the server's own global inventory (``/_api/replication/inventory?global=true`` inside a
short-lived batch; on a DBServer it lists the shards it holds) and from collection-create
markers (2000) as they stream by. A miss refreshes the inventory once; a cuid still unknown
afterwards belongs to a collection that no longer exists.

On a DBServer the shard id is the local collection's name (``s1234``); on a single server it is
``c<collection id>`` (see ``pipeline.source.cluster``).
"""

from __future__ import annotations

from typing import Any

from dc2dc.pipeline.arango.http import ArangoHttp
from dc2dc.pipeline.source.cluster import single_shard_id
from dc2dc.pipeline.source.wal_markers import COLLECTION_CREATE


class ShardResolver:
    """``(db, cuid) -> shard`` for one data server (see module docstring)."""

    def __init__(self, http: ArangoHttp, *, single: bool) -> None:
        self._http = http
        self._single = single
        self._map: dict[tuple[str, str], str] = {}
        self._gone: set[tuple[str, str]] = set()

    def _shard_of(self, parameters: dict[str, Any]) -> str:
        if self._single:
            return single_shard_id(str(parameters.get("cid") or parameters["id"]))
        return str(parameters["name"])

    def learn(self, marker: dict[str, Any]) -> None:
        """Take note of a collection-create marker's cuid."""
        if marker.get("type") == COLLECTION_CREATE and isinstance(marker.get("data"), dict) and marker.get("cuid"):
            self._map[(marker["db"], marker["cuid"])] = self._shard_of(marker["data"])

    async def resolve(self, db: str, cuid: str) -> str | None:
        """The shard of a marker, or None for a collection the server no longer has."""
        key = (db, cuid)
        shard = self._map.get(key)
        if shard is None and key not in self._gone:
            await self.refresh()
            shard = self._map.get(key)
            if shard is None:
                # cuids are never reused, and a new collection's cuid is learnt from its
                # create marker or the refresh: no need to ask again for this one.
                self._gone.add(key)
        return shard

    async def refresh(self) -> None:
        batch = (await self._http.request("POST", "/_api/replication/batch", db="_system", json={"ttl": 60})).json()
        try:
            inventory = (await self._http.request(
                "GET", "/_api/replication/inventory", db="_system",
                params={"batchId": batch["id"], "global": True, "includeSystem": True})).json()
        finally:
            await self._http.request("DELETE", f"/_api/replication/batch/{batch['id']}", db="_system")
        for db, content in inventory.get("databases", {}).items():
            for coll in content.get("collections", []):
                params = coll["parameters"]
                cuid = params.get("globallyUniqueId")
                if cuid:
                    self._map[(db, cuid)] = self._shard_of(params)
