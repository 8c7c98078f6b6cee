"""Structure snapshots: the full desired structure of a source DC, read from its coordinator.

A snapshot is what the control topic carries (``ARCHITECTURE.md``):
databases with their options, collections with the properties that matter, the source shard
ids in hash-slot order, indexes, views, analyzers, and users with permissions. It is built
from the public HTTP API only, so it works the same against ArangoDB and the stand-in.

Rules for system collections (names starting with ``_``), the source side's half:

* They never appear under ``"collections"`` and their WAL entries are never sent as data.
  Their shards are still recorded (``Structure.ignored``) so a WAL entry for one is recognised
  as deliberately not replicated rather than as an unknown shard.
* ``_users``: users travel under ``"users"`` through the user API (``/_api/user``) with
  ``active``, ``extra`` and per-database / per-collection grants (only levels that differ from
  what they fall back to: see ``_permissions``). Password hashes are not readable through that API, so passwords are not replicated:
  the destination creates a missing user with an unusable random password; operators set
  passwords per DC (or use JWT / LDAP). The ``root`` user is included like any other.
* ``_analyzers``: analyzers travel under ``"analyzers"`` of their database through the
  analyzer API; built-in analyzers (names without ``<db>::``) are not listed.
* ``_graphs``: named graph definitions travel under ``"graphs"`` of their database (an
  additive key: ``{name: graph document without _id/_rev}``) read through the graph API
  (``/_api/gharial``). The collections a graph uses replicate as ordinary collections.
* ``_dc2dc_*`` (dc2dc's own bookkeeping, e.g. ``_dc2dc_positions``) never replicate, in any
  direction: each DC's positions describe that DC.
* Every other system collection (``_jobs``, ``_queues``, ``_apps``, ``_appbundles``,
  ``_aqlfunctions``, ``_frontend``, ``_statistics*``, ...) is DC-local and is not replicated.

A server that lacks one of the index, view, analyzer, user or graph APIs (an
ArangoDB-compatible test server may) contributes nothing for it, with a warning in the log.

Shard ids of a single server are its collections' ``c<id>`` (see ``pipeline.source.cluster``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from dc2dc.pipeline.arango import errno
from dc2dc.pipeline.errors import ArangoError
from dc2dc.pipeline.snapshot import is_system, shard_order
from dc2dc.pipeline.source.cluster import SourceCluster, single_shard_id
from dc2dc.pipeline.structure_view import DOCUMENT_COLLECTION, CollectionView, DatabaseView, StructureView

# Collection properties that the destination must reproduce; everything else is per-deployment.
_PROPERTY_KEYS = ("waitForSync", "schema", "computedValues", "cacheEnabled", "numberOfShards",
                  "shardKeys", "replicationFactor", "writeConcern", "shardingStrategy")
_DATABASE_OPTION_KEYS = ("replicationFactor", "writeConcern", "sharding")
# Index fields that describe runtime state or local identity, not the index's definition.
_INDEX_RUNTIME_KEYS = frozenset({"id", "selectivityEstimate", "figures", "isNewlyCreated", "progress",
                                 "isBuilding", "code", "error", "inBackground"})
_VIEW_IDENTITY_KEYS = frozenset({"id", "name", "type", "globallyUniqueId", "error", "code"})
_GRAPH_IDENTITY_KEYS = frozenset({"_id", "_rev"})
_MISSING_APIS_LOGGED: set[str] = set()
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ShardInfo:
    """One replicated source shard and where its data comes from."""

    db: str
    coll: str
    cid: str
    shard: str
    index: int          # position in the collection's shard list
    dump_name: str      # what /_api/replication/dump calls it: the shard (cluster) or collection (single)


@dataclass
class Structure:
    """A snapshot plus what the source side derives from it."""

    view: StructureView = field(default_factory=StructureView)
    shards: dict[str, ShardInfo] = field(default_factory=dict)
    leaders: dict[str, str] = field(default_factory=dict)     # shard -> server id, replicated and ignored
    ignored: set[str] = field(default_factory=set)            # shards of system collections

    @property
    def snapshot(self) -> dict[str, Any]:
        """The snapshot as the control topic carries it."""
        return self.view.as_snapshot()


async def read_structure(cluster: SourceCluster) -> Structure:
    """Read the full structure of the source deployment through its coordinator (or single server)."""
    http = cluster.coordinator
    databases = (await http.request("GET", "/_api/database")).json()["result"]
    servers = await cluster.data_servers()
    out = Structure()
    for db in sorted(databases):
        try:
            out.view.databases[db] = await _read_database(cluster, db, servers, out)
        except ArangoError as e:
            if e.error_num == errno.ARANGO_DATABASE_NOT_FOUND:
                continue  # dropped while we read; the next snapshot no longer lists it
            raise
    out.view.users = grants_within(await _read_users(cluster), set(out.view.databases))
    return out


async def _read_database(cluster: SourceCluster, db: str, servers: dict[str, Any], out: Structure) -> DatabaseView:
    http = cluster.coordinator
    current = (await http.request("GET", "/_api/database/current", db=db)).json()["result"]
    options = {k: current[k] for k in _DATABASE_OPTION_KEYS if k in current}
    if cluster.single:
        found = await _single_collections(cluster, db, next(iter(servers)), out)
    else:
        found = await _cluster_collections(cluster, db, out)
    collections: dict[str, CollectionView] = {}
    for name, (props, indexes, shards) in found.items():
        described = collections[name] = _describe(name, props, indexes, shards)
        for index, shard in enumerate(shards):
            out.shards[shard] = ShardInfo(db=db, coll=name, cid=described.cid, shard=shard, index=index,
                                          dump_name=name if cluster.single else shard)
    return DatabaseView(options=options, collections=collections, views=await _read_views(cluster, db),
                        analyzers=await _read_analyzers(cluster, db), graphs=await _read_graphs(cluster, db))


_Found = dict[str, tuple[dict[str, Any], list[dict[str, Any]], list[str]]]


async def _cluster_collections(cluster: SourceCluster, db: str, out: Structure) -> _Found:
    """Replicated collections of a cluster database: properties, indexes and shards in one call.

    ``clusterInventory`` answers for the whole database at once (cheaper than two calls per
    collection, and one consistent view). Leaders come from ``shardDistribution``, which also
    names the shards of system collections, recorded as ignored.
    """
    inventory = (await cluster.coordinator.request(
        "GET", "/_api/replication/clusterInventory", db=db, params={"includeSystem": False})).json()
    for coll, (shards, leaders) in (await cluster.shard_distribution(db)).items():
        out.leaders.update(leaders)
        if is_system(coll):
            out.ignored.update(shards)
    found: _Found = {}
    for entry in inventory["collections"]:
        props = entry["parameters"]
        if is_system(props["name"]) or props.get("isSystem"):
            continue
        shards = sorted(props.get("shards") or {}, key=shard_order)
        found[props["name"]] = (props, entry.get("indexes") or [], shards)
    return found


async def _single_collections(cluster: SourceCluster, db: str, server_id: str, out: Structure) -> _Found:
    """Collections of a single server: each is one "shard" ``c<id>`` led by the server itself."""
    http = cluster.coordinator
    listing = (await http.request("GET", "/_api/collection", db=db, params={"excludeSystem": False})).json()["result"]
    found: _Found = {}
    for entry in listing:
        shard = single_shard_id(str(entry["id"]))
        out.leaders[shard] = server_id
        if is_system(entry["name"]) or entry.get("isSystem"):
            out.ignored.add(shard)
            continue
        try:
            props = (await http.request("GET", f"/_api/collection/{entry['name']}/properties", db=db)).json()
            indexes = ((await _optional_api(cluster, "/_api/index", db, {"collection": entry["name"]}))
                       or {}).get("indexes", [])
        except ArangoError as e:
            if e.error_num == errno.ARANGO_DATA_SOURCE_NOT_FOUND:
                continue  # dropped while we read
            raise
        found[entry["name"]] = (props, indexes, [shard])
    return found


def _describe(name: str, props: dict[str, Any], indexes: list[dict[str, Any]], shards: list[str]) -> CollectionView:
    """A collection as the snapshot describes it (only what the destination must reproduce)."""
    properties = {k: props[k] for k in _PROPERTY_KEYS if k in props}
    if "writeConcern" not in properties and "minReplicationFactor" in props:
        properties["writeConcern"] = props["minReplicationFactor"]  # the legacy name
    key_options = props.get("keyOptions") or {}
    properties["keyOptions"] = {k: key_options[k] for k in ("type", "allowUserKeys") if k in key_options}
    return CollectionView(
        name=name,
        # Kept by a rename (single servers can rename): the identity the destination follows.
        cid=str(props.get("globallyUniqueId") or props["id"]),
        type=props.get("type", DOCUMENT_COLLECTION),
        properties=properties,
        shards=shards,
        indexes=[{k: v for k, v in ix.items() if k not in _INDEX_RUNTIME_KEYS}
                 for ix in indexes if ix.get("type") not in ("primary", "edge")],
    )


async def _optional_api(cluster: SourceCluster, path: str, db: str | None = None,
                        params: dict[str, Any] | None = None) -> Any:
    """GET an API that not every ArangoDB-compatible server offers; None when it is unknown.

    Only "unknown path" (HTTP 404 with errorNum 404) counts as absent, and it is logged once:
    a real ArangoDB has all of these APIs, so this never hides an error there.
    """
    try:
        return (await cluster.coordinator.request("GET", path, db=db, params=params)).json()
    except ArangoError as e:
        if e.http_code == 404 and e.error_num == errno.HTTP_NOT_FOUND:
            if path not in _MISSING_APIS_LOGGED:
                _MISSING_APIS_LOGGED.add(path)
                log.warning("%s has no %s API: that part of the structure is not replicated",
                            cluster.coordinator.base_url, path)
            return None
        raise


async def _read_views(cluster: SourceCluster, db: str) -> dict[str, Any]:
    http = cluster.coordinator
    views: dict[str, Any] = {}
    for view in ((await _optional_api(cluster, "/_api/view", db)) or {}).get("result", []):
        try:
            props = (await http.request("GET", f"/_api/view/{view['name']}/properties", db=db)).json()
        except ArangoError as e:
            if e.error_num == errno.ARANGO_DATA_SOURCE_NOT_FOUND:
                continue
            raise
        views[view["name"]] = {"type": view.get("type", props.get("type")),
                               "properties": {k: v for k, v in props.items() if k not in _VIEW_IDENTITY_KEYS}}
    return views


async def _read_analyzers(cluster: SourceCluster, db: str) -> dict[str, Any]:
    result = ((await _optional_api(cluster, "/_api/analyzer", db)) or {}).get("result", [])
    prefix = f"{db}::"
    return {
        a["name"][len(prefix):]: {"type": a.get("type"), "properties": a.get("properties", {}),
                                  "features": sorted(a.get("features", []))}
        for a in result if a["name"].startswith(prefix)
    }


async def _read_graphs(cluster: SourceCluster, db: str) -> dict[str, Any]:
    graphs = ((await _optional_api(cluster, "/_api/gharial", db)) or {}).get("graphs", [])
    return {g["_key"]: {k: v for k, v in g.items() if k not in _GRAPH_IDENTITY_KEYS} for g in graphs}


def grants_within(users: dict[str, Any], databases: set[str]) -> dict[str, Any]:
    """Users with grants only on databases of this snapshot (``*`` is every database).

    Users are read after the databases, so a database created in between can have grants here
    but no entry under "databases"; a destination could not apply such a grant. The next
    snapshot carries both.
    """
    return {name: {**user, "permissions": {db: p for db, p in user["permissions"].items()
                                           if db == "*" or db in databases}}
            for name, user in users.items()}


async def _read_users(cluster: SourceCluster) -> dict[str, Any]:
    http = cluster.coordinator
    users: dict[str, Any] = {}
    for user in ((await _optional_api(cluster, "/_api/user")) or {}).get("result", []):
        name = user["user"]
        grants = (await http.request("GET", f"/_api/user/{name}/database", params={"full": True})).json()["result"]
        users[name] = {"active": user.get("active", True), "extra": user.get("extra") or {},
                       "permissions": _permissions(grants)}
    return users


def _permissions(grants: dict[str, Any]) -> dict[str, Any]:
    """The grants that change a user's access, from ``/_api/user/<u>/database?full=true``.

    ArangoDB reports each database's *effective* level (a database without its own grant shows
    the ``*`` level) and ``"*": {"permission": "none"}`` when nothing is granted; a level equal to
    what it would fall back to (``*``'s, or "none" for ``*`` itself) adds nothing, and copying it
    would create a grant the source does not have. Collection levels equal to their database's
    add nothing either (and would grow the snapshot by users x collections).
    """
    def level_of(grant: Any) -> str:
        # without full details a grant is just the level
        return grant if isinstance(grant, str) else grant.get("permission", "undefined")

    wildcard = level_of(grants.get("*", "none"))
    permissions: dict[str, Any] = {}
    for db, grant in grants.items():
        level = level_of(grant)
        inherited = "none" if db == "*" else wildcard
        collections = {c: lv for c, lv in ((grant.get("collections") if isinstance(grant, dict) else None) or {}).items()
                       if lv not in ("undefined", level)}
        if level in ("undefined", inherited) and not collections:
            continue
        entry: dict[str, Any] = {"collections": collections}
        if level not in ("undefined", inherited):
            entry["level"] = level
        permissions[db] = entry
    return permissions
