"""Make the destination's structure match a structure snapshot from the control topic.

A snapshot is the *full* desired structure of the source (see /tmp contract, ``pipeline.source.structure_read``
on the source side): databases, collections with their properties and shard lists, indexes,
arangosearch views, analyzers, users and permissions. Applying one is a diff in two phases:

1. drops, in reverse dependency order: users -> views -> indexes -> collections -> analyzers ->
   databases. Only what the *previously applied* snapshot had is ever dropped, so objects that
   exist only in the destination (its own databases, users, dc2dc's ``_dc2dc_*`` collections)
   are never touched. A collection whose source id (``cid``) changed was dropped and re-created
   under the same name in the source: it is dropped here too, which also voids its old data.
2. creates and changes in dependency order: databases -> analyzers -> collections -> indexes ->
   views -> users/permissions.

Every step compares against what the destination actually has, so applying a snapshot twice
changes nothing the second time, and a destination that crashed half-way heals on the next
apply. Collections are created with the source's ``numberOfShards``, ``shardKeys`` and
``shardingStrategy`` — the destination shard at index *i* then holds exactly the keys of the
source shard at index *i*, which is what per-shard truncate and resync rely on.

System collections (names starting with ``_``) are never created, changed or dropped as
collections here; the destination half of the rules in ``pipeline.source.structure_read``:

* ``_users``: users and their grants through the user API. The ``root`` user is left alone: it
  is the destination's own administrator, and copying the source's (say, deactivating it)
  could lock the destination's operators out.
* ``_analyzers``: through the analyzer API (an analyzer cannot be changed in place: a changed
  one is dropped with ``force`` and re-created).
* ``_graphs``: named graphs through the graph API, after their collections; dropping a graph
  keeps its collections (they are replicated, and dropped, as collections).
* ``_dc2dc_*`` and every other system collection: never touched.

Passwords cannot be read through the user API, so a user created here gets a random password
(nobody can log in with it) until an operator sets one; see the README's security notes.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass, field
from typing import Any

import orjson

from dc2dc.pipeline.snapshot import is_system
from dc2dc.pipeline.arango import errno
from dc2dc.pipeline.arango.http import ArangoHttp
from dc2dc.pipeline.errors import ArangoError, Dc2dcError

log = logging.getLogger(__name__)

_SYSTEM_DB = "_system"
_ROOT = "root"
# Properties the collection API accepts on create; the rest of a source definition is internal.
_CREATE_PROPS = ("waitForSync", "schema", "keyOptions", "computedValues", "cacheEnabled", "numberOfShards",
                 "shardKeys", "replicationFactor", "writeConcern", "shardingStrategy")
# Properties PUT /_api/collection/<c>/properties can change later.
_CHANGEABLE_PROPS = ("waitForSync", "schema", "computedValues", "cacheEnabled", "replicationFactor", "writeConcern")
# Properties that must match for the shard-by-shard mapping to hold.
_FIXED_PROPS = ("numberOfShards", "shardKeys", "shardingStrategy")
_IMPLICIT_INDEXES = frozenset({"primary", "edge"})
_INDEX_VOLATILE = frozenset({"id", "name", "inBackground", "selectivityEstimate", "figures", "isNewlyCreated"})


def _parking_name(collection_id: str) -> str:
    """A free name for one side of a name swap (a letter first, then only safe characters)."""
    return "dc2dcRename" + hashlib.blake2b(collection_id.encode(), digest_size=8).hexdigest()


class StructureError(Dc2dcError):
    """The destination holds an object that cannot be made to match the snapshot without losing data."""


def _covers(actual: Any, desired: Any) -> bool:
    """True when ``actual`` has every value ``desired`` asks for (servers add defaults to what they report)."""
    if isinstance(desired, dict) and isinstance(actual, dict):
        return all(k in actual and _covers(actual[k], v) for k, v in desired.items())
    if isinstance(desired, list) and isinstance(actual, list):
        return len(desired) == len(actual) and all(_covers(a, d) for a, d in zip(actual, desired))
    return bool(actual == desired)


def _same_members(actual: list[Any], desired: list[Any]) -> bool:
    """Order-insensitive equality of two JSON lists (graph definitions come back in any order)."""
    key = lambda v: orjson.dumps(v, option=orjson.OPT_SORT_KEYS)  # noqa: E731
    return sorted(map(key, actual)) == sorted(map(key, desired))


def _differs(actual: dict[str, Any], desired: dict[str, Any], keys: tuple[str, ...] | None = None) -> list[str]:
    """Keys whose desired value the destination does not have (keys it does not report are not compared)."""
    names = keys if keys is not None else tuple(desired)
    return [k for k in names if k in desired and k in actual and not _covers(actual[k], desired[k])]


@dataclass
class _Db:
    """The desired (or previously applied) part of a snapshot for one database."""

    options: dict[str, Any] = field(default_factory=dict)
    collections: dict[str, dict[str, Any]] = field(default_factory=dict)
    views: dict[str, dict[str, Any]] = field(default_factory=dict)
    analyzers: dict[str, dict[str, Any]] = field(default_factory=dict)
    graphs: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def of(cls, raw: dict[str, Any] | None) -> _Db:
        raw = raw or {}
        colls = {n: c for n, c in (raw.get("collections") or {}).items() if not is_system(n)}
        return cls(raw.get("options") or {}, colls, raw.get("views") or {}, raw.get("analyzers") or {},
                   raw.get("graphs") or {})


class StructureApplier:
    """Applies snapshots through one destination coordinator; ``apply`` returns what it changed."""

    def __init__(self, http: ArangoHttp) -> None:
        self._http = http
        self._actions: list[str] = []
        # (db, source cid) -> id of the destination collection it was last seen as (renames)
        self._placed: dict[tuple[str, str], str] = {}

    async def apply(self, desired: dict[str, Any], previous: dict[str, Any] | None = None) -> list[str]:
        self._actions = []
        want = {n: _Db.of(d) for n, d in (desired.get("databases") or {}).items()}
        had = {n: _Db.of(d) for n, d in ((previous or {}).get("databases") or {}).items()}
        want_users = {u: v for u, v in (desired.get("users") or {}).items() if u != _ROOT}
        had_users = {u: v for u, v in ((previous or {}).get("users") or {}).items() if u != _ROOT}

        existing_dbs = set(await self._list_databases())
        # phase 1: drops, reverse dependency order
        for user in sorted(set(had_users) - set(want_users)):
            await self._drop_user(user)
        for name, old in had.items():
            if name not in existing_dbs:
                continue
            if name not in want:
                if name != _SYSTEM_DB:
                    await self._do("DELETE", f"/_api/database/{name}", f"drop database {name}",
                                   ok={errno.ARANGO_DATABASE_NOT_FOUND})
                    existing_dbs.discard(name)
                continue
            await self._drop_in_database(name, old, want[name])
        # phase 2: creates and changes, dependency order
        for name, db in want.items():
            if name not in existing_dbs:
                await self._create_database(name, db.options)
        for name, db in want.items():
            old = had.get(name, _Db())
            await self._apply_analyzers(name, db, old)
            await self._apply_collections(name, db, old)
            await self._apply_views(name, db)
            await self._apply_graphs(name, db)
        for user, spec in want_users.items():
            await self._apply_user(user, spec, had_users.get(user) or {})
        return self._actions

    # --- requests ------------------------------------------------------------------------------

    async def _do(self, method: str, path: str, action: str, *, db: str | None = None, json: Any = None,
                  params: dict[str, Any] | None = None, ok: set[int] | frozenset[int] = frozenset()) -> None:
        """A change request; error numbers in ``ok`` mean "already as wanted" (idempotent replay)."""
        try:
            await self._http.request(method, path, db=db, json=json, params=params)
        except ArangoError as exc:
            if exc.error_num not in ok:
                raise
            return
        log.info("structure: %s", action)
        self._actions.append(action)

    async def _get(self, path: str, *, db: str | None = None, params: dict[str, Any] | None = None) -> Any:
        return (await self._http.request("GET", path, db=db, params=params)).json()

    async def _list_databases(self) -> list[str]:
        return list((await self._get("/_api/database", db=_SYSTEM_DB))["result"])

    # --- databases -----------------------------------------------------------------------------

    async def _create_database(self, name: str, options: dict[str, Any]) -> None:
        body: dict[str, Any] = {"name": name}
        opts = {k: v for k, v in options.items() if v is not None and k in ("replicationFactor", "writeConcern", "sharding")}
        if opts:
            body["options"] = opts
        await self._do("POST", "/_api/database", f"create database {name}", db=_SYSTEM_DB, json=body,
                       ok={errno.ARANGO_DUPLICATE_NAME})

    async def _drop_in_database(self, db: str, old: _Db, new: _Db) -> None:
        if old.graphs:
            graphs = await self._graphs(db)
            for graph in old.graphs:
                if graph in graphs and graph not in new.graphs:
                    await self._drop_graph(db, graph)
        views = await self._views(db) if old.views else {}
        for view in old.views:
            if view in views and view not in new.views:
                await self._do("DELETE", f"/_api/view/{view}", f"drop view {db}/{view}", db=db,
                               ok={errno.ARANGO_DATA_SOURCE_NOT_FOUND})
        colls = await self._collections(db)
        kept = {spec.get("cid") for spec in new.collections.values()}
        for coll, spec in old.collections.items():
            if coll in colls and spec.get("cid") not in kept:
                await self._do("DELETE", f"/_api/collection/{coll}", f"drop collection {db}/{coll}", db=db,
                               ok={errno.ARANGO_DATA_SOURCE_NOT_FOUND})
                colls.pop(coll)
        old.collections = await self._rename_collections(db, old.collections, new.collections, colls)
        for coll, spec in old.collections.items():
            target = new.collections.get(coll)
            if coll not in colls or target is None or target.get("cid") != spec.get("cid"):
                continue
            gone = {i.get("name") for i in spec.get("indexes") or []} - {i.get("name") for i in target.get("indexes") or []}
            if gone:
                for index in await self._indexes(db, coll):
                    if index.get("name") in gone:
                        await self._drop_index(db, coll, index)
        analyzers = await self._analyzers(db) if old.analyzers else {}
        for name in old.analyzers:
            if name in analyzers and name not in new.analyzers:
                await self._do("DELETE", f"/_api/analyzer/{db}::{name}", f"drop analyzer {db}::{name}", db=db,
                               params={"force": True}, ok={errno.ARANGO_DATA_SOURCE_NOT_FOUND})

    async def _rename_collections(self, db: str, old: dict[str, dict[str, Any]], new: dict[str, dict[str, Any]],
                                  have: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        """Rename what the source renamed (same ``cid``, new name); ``old`` keyed by the names it has now.

        A collection is found under the name the previous snapshot gave it, or where this applier
        last put it (by the destination's own collection id): an apply retried after some renames
        must not rename them again, least of all a swap. Names that swap are freed by parking one
        collection under a name derived from its source id. ``have`` is kept up to date.
        """
        wanted = {spec.get("cid"): name for name, spec in new.items()}
        by_id = {str(info.get("id")): name for name, info in have.items()}
        where: dict[Any, str] = {}             # source cid -> its name in the destination now
        for name, spec in old.items():
            cid = spec.get("cid")
            placed = by_id.get(self._placed.get((db, str(cid)), ""))
            if placed is not None or name in have:
                where[cid] = placed or name
        moves = {where[cid]: wanted[cid] for cid in where if cid in wanted and where[cid] != wanted[cid]}
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
            for frm, to in ready:
                await self._do("PUT", f"/_api/collection/{frm}/rename", f"rename collection {db}/{frm} to {to}",
                               db=db, json={"name": to})
                have[to] = have.pop(frm)
                moves.pop(frm)
        renamed: dict[str, dict[str, Any]] = {}
        for name, spec in old.items():
            cid = spec.get("cid")
            now = wanted.get(cid, name) if cid in where else name
            renamed[now] = spec
            if now in have:
                self._placed[(db, str(cid))] = str(have[now].get("id"))
        return renamed

    # --- analyzers -----------------------------------------------------------------------------

    async def _analyzers(self, db: str) -> dict[str, dict[str, Any]]:
        prefix = f"{db}::"
        result = (await self._get("/_api/analyzer", db=db))["result"]
        return {a["name"][len(prefix):]: a for a in result if a["name"].startswith(prefix)}

    async def _apply_analyzers(self, db: str, want: _Db, old: _Db) -> None:
        if not want.analyzers:
            return
        have = await self._analyzers(db)
        for name, spec in want.analyzers.items():
            body = {"name": name, "type": spec.get("type"), "properties": spec.get("properties") or {},
                    "features": sorted(spec.get("features") or [])}
            current = have.get(name)
            if current is not None:
                same = (current.get("type") == body["type"] and _covers(current.get("properties") or {},
                        body["properties"]) and sorted(current.get("features") or []) == body["features"])
                if same:
                    continue
                # Analyzers cannot be changed in place; views using one are re-linked below.
                await self._do("DELETE", f"/_api/analyzer/{db}::{name}", f"drop changed analyzer {db}::{name}",
                               db=db, params={"force": True}, ok={errno.ARANGO_DATA_SOURCE_NOT_FOUND})
            await self._do("POST", "/_api/analyzer", f"create analyzer {db}::{name}", db=db, json=body)

    # --- collections and indexes ---------------------------------------------------------------

    async def _collections(self, db: str) -> dict[str, dict[str, Any]]:
        result = (await self._get("/_api/collection", db=db, params={"excludeSystem": True}))["result"]
        return {c["name"]: c for c in result if not is_system(c["name"])}

    async def _apply_collections(self, db: str, want: _Db, old: _Db) -> None:
        have = await self._collections(db)
        for name, spec in want.collections.items():
            props = dict(spec.get("properties") or {})
            if name not in have:
                await self._create_collection(db, name, spec.get("type", 2), props)
            else:
                await self._align_collection(db, name, spec, props, adopted=name not in old.collections)
            await self._apply_indexes(db, name, spec.get("indexes") or [])

    async def _create_collection(self, db: str, name: str, ctype: int, props: dict[str, Any]) -> None:
        body: dict[str, Any] = {"name": name, "type": ctype}
        for key in _CREATE_PROPS:
            if props.get(key) is not None:
                body[key] = props[key]
        if isinstance(body.get("keyOptions"), dict):
            body["keyOptions"] = {k: v for k, v in body["keyOptions"].items() if k != "lastValue"}
        # The destination may have fewer DBServers than the source for a while; create anyway.
        await self._do("POST", "/_api/collection", f"create collection {db}/{name}", db=db, json=body,
                       params={"enforceReplicationFactor": False}, ok={errno.ARANGO_DUPLICATE_NAME})

    async def _align_collection(self, db: str, name: str, spec: dict[str, Any], props: dict[str, Any],
                                adopted: bool) -> None:
        actual = await self._get(f"/_api/collection/{name}/properties", db=db)
        fixed = _differs(actual, props, _FIXED_PROPS)
        if fixed or ("type" in actual and actual["type"] != spec.get("type", 2)):
            why = "it existed before replication" if adopted else "it changed outside dc2dc"
            raise StructureError(
                f"{db}/{name} in the destination has other {', '.join(fixed) or 'type'} than the source "
                f"({why}); drop or rename it in the destination, then restart")
        changed = _differs(actual, props, _CHANGEABLE_PROPS)
        if changed:
            await self._do("PUT", f"/_api/collection/{name}/properties",
                           f"change {', '.join(changed)} of collection {db}/{name}", db=db,
                           json={k: props[k] for k in changed})

    async def _indexes(self, db: str, coll: str) -> list[dict[str, Any]]:
        result = (await self._get("/_api/index", db=db, params={"collection": coll}))["indexes"]
        return [i for i in result if i.get("type") not in _IMPLICIT_INDEXES]

    async def _drop_index(self, db: str, coll: str, index: dict[str, Any]) -> None:
        index_id = str(index["id"]).split("/")[-1]
        await self._do("DELETE", f"/_api/index/{coll}/{index_id}", f"drop index {db}/{coll}/{index.get('name')}",
                       db=db, ok={errno.ARANGO_INDEX_NOT_FOUND})

    async def _apply_indexes(self, db: str, coll: str, wanted: list[dict[str, Any]]) -> None:
        if not wanted:
            return
        have = {i.get("name"): i for i in await self._indexes(db, coll)}
        for spec in wanted:
            body = {k: v for k, v in spec.items() if k != "id"}
            current = have.get(body.get("name"))
            if current is not None:
                compare = {k: v for k, v in body.items() if k not in _INDEX_VOLATILE}
                if not _differs(current, compare):
                    continue
                await self._drop_index(db, coll, current)   # indexes cannot be changed in place
            await self._do("POST", "/_api/index", f"create index {db}/{coll}/{body.get('name')}", db=db,
                           params={"collection": coll}, json=body)

    # --- views ---------------------------------------------------------------------------------

    async def _views(self, db: str) -> dict[str, dict[str, Any]]:
        return {v["name"]: v for v in (await self._get("/_api/view", db=db))["result"]}

    async def _apply_views(self, db: str, want: _Db) -> None:
        if not want.views:
            return
        have = await self._views(db)
        for name, spec in want.views.items():
            vtype = spec.get("type", "arangosearch")
            props = spec.get("properties") or {}
            current = have.get(name)
            if current is not None and current.get("type") != vtype:
                await self._do("DELETE", f"/_api/view/{name}", f"drop view {db}/{name} (type changed)", db=db,
                               ok={errno.ARANGO_DATA_SOURCE_NOT_FOUND})
                current = None
            if current is None:
                await self._do("POST", "/_api/view", f"create view {db}/{name}", db=db,
                               json={"name": name, "type": vtype, **props}, ok={errno.ARANGO_DUPLICATE_NAME})
                continue
            actual = await self._get(f"/_api/view/{name}/properties", db=db)
            changed = _differs(actual, props)
            if changed:
                await self._do("PUT", f"/_api/view/{name}/properties",
                               f"change {', '.join(changed)} of view {db}/{name}", db=db, json=props)

    # --- named graphs (the _graphs system collection, through the graph API) ---------------------

    async def _graphs(self, db: str) -> dict[str, dict[str, Any]]:
        return {g["_key"]: g for g in (await self._get("/_api/gharial", db=db))["graphs"]}

    async def _drop_graph(self, db: str, name: str) -> None:
        # The graph's collections stay: they are replicated (and dropped) as collections.
        await self._do("DELETE", f"/_api/gharial/{name}", f"drop graph {db}/{name}", db=db,
                       params={"dropCollections": False}, ok={errno.GRAPH_NOT_FOUND})

    async def _apply_graphs(self, db: str, want: _Db) -> None:
        if not want.graphs:
            return
        have = await self._graphs(db)
        for name, spec in want.graphs.items():
            shape = {k: spec.get(k) or [] for k in ("edgeDefinitions", "orphanCollections")}
            current = have.get(name)
            if current is not None:
                if all(_same_members(current.get(k) or [], v) for k, v in shape.items()):
                    continue
                await self._drop_graph(db, name)
            await self._do("POST", "/_api/gharial", f"create graph {db}/{name}", db=db,
                           json={"name": name, **shape}, ok={errno.GRAPH_DUPLICATE})

    # --- users and permissions -----------------------------------------------------------------

    async def _drop_user(self, user: str) -> None:
        await self._do("DELETE", f"/_api/user/{user}", f"drop user {user}", db=_SYSTEM_DB,
                       ok={errno.USER_NOT_FOUND})

    async def _apply_user(self, user: str, spec: dict[str, Any], old: dict[str, Any]) -> None:
        active, extra = spec.get("active", True), spec.get("extra") or {}
        try:
            current = await self._get(f"/_api/user/{user}", db=_SYSTEM_DB)
        except ArangoError as exc:
            if exc.error_num != errno.USER_NOT_FOUND:
                raise
            current = None
        if current is None:
            await self._do("POST", "/_api/user", f"create user {user}", db=_SYSTEM_DB, ok={errno.USER_DUPLICATE},
                           json={"user": user, "passwd": secrets.token_urlsafe(24), "active": active, "extra": extra})
        elif current.get("active") != active or not _covers(current.get("extra") or {}, extra):
            # PATCH, because PUT would reset the password. PATCH merges ``extra``, so an attribute
            # removed from a user's extra data in the source stays in the destination.
            await self._do("PATCH", f"/_api/user/{user}", f"change user {user}", db=_SYSTEM_DB,
                           json={"active": active, "extra": extra})
        await self._apply_permissions(user, spec.get("permissions") or {}, old.get("permissions") or {})

    async def _apply_permissions(self, user: str, want: dict[str, Any], old: dict[str, Any]) -> None:
        have = (await self._get(f"/_api/user/{user}/database", db=_SYSTEM_DB, params={"full": True}))["result"]
        for db in sorted(set(old) - set(want)):
            await self._do("DELETE", f"/_api/user/{user}/database/{db}", f"reset permission of {user} on {db}",
                           db=_SYSTEM_DB, ok={errno.ARANGO_DATABASE_NOT_FOUND, errno.USER_NOT_FOUND})
        for db, perm in want.items():
            current = have.get(db) or {}
            level = perm.get("level")
            if level is not None and current.get("permission") != level:
                await self._do("PUT", f"/_api/user/{user}/database/{db}", f"grant {level} on {db} to {user}",
                               db=_SYSTEM_DB, json={"grant": level})
            cur_colls = current.get("collections") or {}
            old_colls = (old.get(db) or {}).get("collections") or {}
            for coll in sorted(set(old_colls) - set(perm.get("collections") or {})):
                await self._do("DELETE", f"/_api/user/{user}/database/{db}/{coll}",
                               f"reset permission of {user} on {db}/{coll}", db=_SYSTEM_DB,
                               ok={errno.ARANGO_DATA_SOURCE_NOT_FOUND, errno.ARANGO_DATABASE_NOT_FOUND})
            for coll, clevel in (perm.get("collections") or {}).items():
                if cur_colls.get(coll) != clevel:
                    await self._do("PUT", f"/_api/user/{user}/database/{db}/{coll}",
                                   f"grant {clevel} on {db}/{coll} to {user}", db=_SYSTEM_DB, json={"grant": clevel})
