"""The in-memory model one stand-in process serves: servers, databases, collections, shards.

All servers of a cluster share this one model (they live in one OS process), which is how the
stand-in stays fast on two cores. Writes to a shard are applied once and logged in the WAL of
the shard's leader *and* of each running follower, each with that server's own ticks, which is
what synchronous replication leaves behind in a real cluster.
"""
from __future__ import annotations

import random
import re
import secrets
import unicodedata
import uuid
from dataclasses import dataclass, field
from typing import Any

import orjson

from . import computed, errors, keys, shapes, validation, wal as walmod
from .ids import Counter, HybridClock

COORDINATOR = "COORDINATOR"
PRIMARY = "PRIMARY"
SINGLE = "SINGLE"
VERSION = "3.12.4"
DOCUMENT = 2
EDGE = 3
SYSTEM_COLLECTIONS = ("_graphs", "_analyzers", "_aqlfunctions", "_queues", "_jobs", "_apps",
                      "_appbundles", "_frontend")
_FORBIDDEN_IN_NAMES = re.compile(r"[/\x00-\x1f\x7f]")


def valid_collection_name(name: object) -> bool:
    """Extended (Unicode) names, the 3.12 default: no '/', no control characters, at most 256
    bytes, not starting with a digit, a space or (unless system) an underscore."""
    if not isinstance(name, str) or not name or len(name.encode()) > 256:
        return False
    if _FORBIDDEN_IN_NAMES.search(name) or name != unicodedata.normalize("NFC", name):
        return False
    return not (name[0].isdigit() or name[0] in " .:" or name != name.strip())


@dataclass
class Server:
    id: str
    short_name: str
    role: str
    numeric_id: str
    wal: walmod.Wal | None = None
    endpoint: str = ""
    running: bool = True
    # replication batches (snapshot contexts) live per server, as they pin that server's snapshot
    batches: dict[str, Any] = field(default_factory=dict)

    @property
    def is_dbserver(self) -> bool:
        return self.role in (PRIMARY, SINGLE)


@dataclass
class Shard:
    name: str
    index: int
    cuid: str
    leader: str
    followers: list[str]
    docs: dict[str, dict] = field(default_factory=dict)

    def replicas(self) -> list[str]:
        return [self.leader, *self.followers]


@dataclass
class Collection:
    db: "Database"
    name: str
    id: str
    type: int
    guid: str
    props: dict
    shards: list[Shard]
    indexes: list[dict] = field(default_factory=list)
    # unique persistent index id -> (tuple of field values -> _key); enforced on every write
    unique: dict[str, dict[tuple, str]] = field(default_factory=dict)
    key_last: int = 0
    index_counter: int = 0

    @property
    def is_system(self) -> bool:
        return self.name.startswith("_")

    @property
    def shard_keys(self) -> list[str]:
        return self.props["shardKeys"]

    def count(self) -> int:
        return sum(len(s.docs) for s in self.shards)

    def shard_by_name(self, name: str) -> Shard | None:
        for s in self.shards:
            if s.name == name:
                return s
        return None


@dataclass
class Database:
    name: str
    id: str
    options: dict
    collections: dict[str, Collection] = field(default_factory=dict)
    views: dict[str, dict] = field(default_factory=dict)
    analyzers: dict[str, dict] = field(default_factory=dict)


@dataclass
class User:
    name: str
    password: str
    active: bool = True
    extra: dict = field(default_factory=dict)
    # db name (or "*") -> {"permission": "rw"|"ro"|"none", "collections": {name or "*": level}}
    grants: dict[str, dict] = field(default_factory=dict)


@dataclass
class CoordinatorView:
    """Where the coordinator's cluster reports deliberately differ from the truth (test knobs).

    ArangoDB's coordinators read Plan/Current from the agency and may lag the DBServers: a new
    collection is written to before a coordinator lists it, and during a failover Current names
    no leader or a resigned one (``_<server>``). Not persisted: a restart reports the truth.
    """

    hidden: set[tuple[str, str]] = field(default_factory=set)      # (db, collection) not listed yet
    leaders: dict[tuple[str, str], str] = field(default_factory=dict)  # (db, shard) -> leader reported


class Cluster:
    """Everything one stand-in process serves (a cluster, or a single server)."""

    def __init__(self, mode: str, dbservers: int, root_password: str, jwt_secret: str) -> None:
        self.mode = mode
        self.root_password = root_password
        self.jwt_secret = jwt_secret
        self.cluster_id = str(uuid.uuid4())
        self.hlc = HybridClock()
        # plan ids differ from cluster to cluster, as they do for real: replicators map by shard index
        self.ids = Counter(random.randrange(10_000, 90_000) * 10)
        self.key_counter = Counter(random.randrange(1, 1000) * 1000)
        self.servers: dict[str, Server] = {}
        self.coordinator: Server
        self.dbservers: list[Server] = []
        self.databases: dict[str, Database] = {}
        self.users: dict[str, User] = {"root": User("root", root_password)}
        self.placement_counter = 0
        self.structure_version = 0
        self.transactions: dict[str, Any] = {}  # stream transaction id -> transactions.Transaction
        self.access_tokens: dict[str, list[dict]] = {}  # user -> tokens usable as passwords
        self.coordinator_view = CoordinatorView()
        if mode == SINGLE.lower() or mode == "single":
            self.mode = "single"
            single = self._new_server(SINGLE, "SNGL", "Single0001")
            self.coordinator = single
            self.dbservers = [single]
        else:
            self.mode = "cluster"
            self.coordinator = self._new_server(COORDINATOR, "CRDN", "Coordinator0001")
            for i in range(dbservers):
                self.dbservers.append(self._new_server(PRIMARY, "PRMR", f"DBServer{i + 1:04d}"))
        self.create_database("_system", {}, creating_system=True)

    def __getstate__(self) -> dict:
        # open stream transactions and replication batches do not survive a restart, as in ArangoDB
        state = dict(self.__dict__)
        state["transactions"] = {}
        state["coordinator_view"] = CoordinatorView()
        return state

    def __setstate__(self, state: dict) -> None:
        state.setdefault("access_tokens", {})
        state.setdefault("coordinator_view", CoordinatorView())
        self.__dict__.update(state)
        for server in self.servers.values():
            server.batches = {}
            server.running = True

    @property
    def is_cluster(self) -> bool:
        return self.mode == "cluster"

    def _new_server(self, role: str, prefix: str, short: str) -> Server:
        sid = f"{prefix}-{uuid.uuid4()}"
        numeric = str(random.randrange(10**14, 10**15))
        server = Server(sid, short, role, numeric)
        if role != COORDINATOR:
            server.wal = walmod.Wal(start_tick=random.randrange(100, 5000) * 10,
                                    tid_counter=Counter(random.randrange(10**12, 10**13)))
        self.servers[sid] = server
        return server

    def server(self, ref: str) -> Server:
        """A server by id or short name."""
        if ref in self.servers:
            return self.servers[ref]
        for s in self.servers.values():
            if s.short_name == ref:
                return s
        raise errors.ArangoError(errors.CLUSTER_SERVER_UNKNOWN, f"unknown server '{ref}'", 404)

    def require_available(self, shard: Shard) -> None:
        """A shard whose leader is down (and had no follower to fail over to) cannot be used."""
        if not self.servers[shard.leader].running:
            raise errors.ArangoError(errors.CLUSTER_BACKEND_UNAVAILABLE,
                                     "A cluster backend which was required for the operation could not be reached", 503)

    def running_dbservers(self) -> list[Server]:
        return [s for s in self.dbservers if s.running]

    # -- WAL fan-out ----------------------------------------------------------------------------
    def log_shard(self, shard: Shard, ops: list[walmod.Op], *, single_op_tid: bool = True) -> None:
        for sid in shard.replicas():
            server = self.servers[sid]
            if server.running and server.wal is not None:
                server.wal.write_batch(ops, single_op_tid=single_op_tid)

    def log_all(self, ops: list[walmod.Op]) -> None:
        for server in self.dbservers:
            if server.running and server.wal is not None:
                server.wal.write_batch(ops)

    def live_cuids(self, server: Server) -> set[str]:
        out = set()
        for db in self.databases.values():
            for coll in db.collections.values():
                for shard in coll.shards:
                    if server.id in shard.replicas():
                        out.add(shard.cuid)
        return out

    # -- databases ------------------------------------------------------------------------------
    def database(self, name: str) -> Database:
        db = self.databases.get(name)
        if db is None:
            raise errors.ArangoError(errors.DATABASE_NOT_FOUND, "database not found")
        return db

    def create_database(self, name: str, options: dict, *, creating_system: bool = False) -> Database:
        if not valid_database_name(name) or (name.startswith("_") and not creating_system):
            raise errors.ArangoError(errors.DATABASE_NAME_INVALID, "database name invalid")
        if name in self.databases:
            raise errors.ArangoError(errors.DUPLICATE_NAME, "duplicate database name")
        opts = {"sharding": options.get("sharding", "") or "",
                "replicationFactor": options.get("replicationFactor", 1),
                "writeConcern": options.get("writeConcern", options.get("minReplicationFactor", 1))}
        db = Database(name, str(self.ids.next()), opts)
        self.databases[name] = db
        self.structure_version += 1
        self.log_all([walmod.Op(walmod.DATABASE_CREATE, name, None, "",
                                orjson.dumps({"database": int(db.id), "id": db.id, "name": name}))])
        for sys_name in SYSTEM_COLLECTIONS:
            self.create_collection(db, {"name": sys_name, "isSystem": True}, system=True)
        return db

    def drop_database(self, name: str) -> None:
        if name == "_system":
            raise errors.ArangoError(errors.FORBIDDEN, "cannot drop _system database", 403)
        self.database(name)
        del self.databases[name]
        self.structure_version += 1
        self.log_all([walmod.Op(walmod.DATABASE_DROP, name)])

    # -- collections ----------------------------------------------------------------------------
    def collection(self, db: Database, name: str) -> Collection:
        coll = db.collections.get(name)
        if coll is None:
            coll = next((c for c in db.collections.values() if c.id == name), None)
        if coll is None:
            raise errors.ArangoError(errors.DATA_SOURCE_NOT_FOUND,
                                     f"collection or view not found: {name}")
        return coll

    def create_collection(self, db: Database, body: dict, *, system: bool = False,
                          enforce_replication_factor: bool = True) -> Collection:
        name = body.get("name")
        if not valid_collection_name(name) or (
                name.startswith("_") and not (system or body.get("isSystem"))):
            raise errors.ArangoError(errors.ILLEGAL_NAME, "illegal name")
        if name in db.collections or name in db.views:
            raise errors.ArangoError(errors.DUPLICATE_NAME, "duplicate name")
        ctype = body.get("type", DOCUMENT)
        if ctype not in (DOCUMENT, EDGE):
            raise errors.ArangoError(errors.COLLECTION_TYPE_INVALID, "invalid collection type")
        key_options = keys.key_options(body.get("keyOptions") or {})
        props = {
            "waitForSync": bool(body.get("waitForSync", False)),
            "keyOptions": key_options,
            "schema": validation.normalise(body.get("schema")),
            "computedValues": computed.normalise(body.get("computedValues")),
            "cacheEnabled": bool(body.get("cacheEnabled", False)),
            "isSystem": name.startswith("_"),
            "shardKeys": list(body.get("shardKeys") or ["_key"]),
            "numberOfShards": 1,
            "replicationFactor": 1,
            "writeConcern": 1,
            "shardingStrategy": body.get("shardingStrategy") or "hash",
        }
        cid = str(self.ids.next())
        prototype: Collection | None = None
        if self.is_cluster:
            dsl = body.get("distributeShardsLike") or None
            one_shard = db.options.get("sharding") == "single"
            # system collections, and every collection of a OneShard database, follow _graphs
            if (system or one_shard) and name != "_graphs" and "_graphs" in db.collections:
                dsl = "_graphs"
            if dsl:
                prototype = db.collections.get(dsl)
                if prototype is None:
                    raise errors.ArangoError(errors.CLUSTER_UNKNOWN_DISTRIBUTESHARDSLIKE,
                                             f"Collection not found: {dsl} in database {db.name}")
                props["distributeShardsLike"] = dsl
                for k in ("numberOfShards", "replicationFactor", "writeConcern", "shardingStrategy"):
                    props[k] = prototype.props[k]
            else:
                # system collections default to two copies, as ArangoDB's do
                default_rf = min(2, len(self.dbservers)) if system else db.options.get("replicationFactor", 1)
                n = int(body.get("numberOfShards", 1) or 1)
                rf = body.get("replicationFactor", default_rf)
                if rf == "satellite":
                    rf = len(self.dbservers)
                rf = int(rf or 1)
                if n < 1 or rf < 1:
                    raise errors.ArangoError(errors.BAD_PARAMETER, "invalid numberOfShards or replicationFactor")
                if rf > len(self.running_dbservers()) and enforce_replication_factor:
                    raise errors.ArangoError(errors.CLUSTER_INSUFFICIENT_DBSERVERS,
                                             "replicationFactor is too high")
                wc = int(body.get("writeConcern", body.get("minReplicationFactor", 1)) or 1)
                if wc > rf:
                    raise errors.ArangoError(errors.BAD_PARAMETER, "writeConcern must not be higher than replicationFactor")
                props.update(numberOfShards=n, replicationFactor=rf, writeConcern=wc)
            if len(props["shardKeys"]) < 1 or len(props["shardKeys"]) > 8:
                raise errors.ArangoError(errors.BAD_PARAMETER, "invalid number of shard keys")
            if key_options["type"] == "autoincrement" and props["numberOfShards"] > 1:
                raise errors.ArangoError(errors.CLUSTER_UNSUPPORTED,
                                         "the specified key generator is not supported for collections with more than one shard", 501)
        shards = self._place_shards(name, cid, props, prototype)
        # a coordinator names a cluster collection "c<planId>/" (its shards are "c<planId>/<shard>")
        guid = f"c{cid}/" if self.is_cluster else f"h{int(self.coordinator.numeric_id):X}/{cid}"
        coll = Collection(db, name, cid, ctype, guid, props, shards)
        coll.indexes = [primary_index(coll)]
        if ctype == EDGE:
            coll.indexes.append(edge_index(coll))
        db.collections[name] = coll
        self.structure_version += 1
        for shard in shards:
            self.log_shard(shard, [walmod.Op(walmod.COLLECTION_CREATE, db.name, shard.cuid, shard.name,
                                             orjson.dumps(shapes.shard_definition(self, coll, shard)))])
        return coll

    def _place_shards(self, name: str, cid: str, props: dict, prototype: Collection | None) -> list[Shard]:
        if not self.is_cluster:
            single = self.dbservers[0]
            return [Shard(name, 0, f"h{int(single.numeric_id):X}/{cid}", single.id, [])]
        shards = []
        servers = self.running_dbservers() or self.dbservers
        base = self.placement_counter
        self.placement_counter += 1
        for i in range(props["numberOfShards"]):
            sid = f"s{self.ids.next()}"
            if prototype is not None:
                proto = prototype.shards[i]
                leader, followers = proto.leader, list(proto.followers)
            else:
                picked = [servers[(base + i + j) % len(servers)].id
                          for j in range(min(props["replicationFactor"], len(servers)))]
                leader, followers = picked[0], picked[1:]
            shards.append(Shard(sid, i, f"c{cid}/{sid}", leader, followers))
        return shards

    def drop_collection(self, coll: Collection) -> None:
        db = coll.db
        if self.is_cluster:
            for other in db.collections.values():
                if other.props.get("distributeShardsLike") == coll.name and other is not coll:
                    raise errors.ArangoError(1485, "Collection must not be dropped while it is a sharding prototype for other collections", 409)
        del db.collections[coll.name]
        self.structure_version += 1
        for shard in coll.shards:
            self.log_shard(shard, [walmod.Op(walmod.COLLECTION_DROP, db.name, shard.cuid, shard.name)])

    def change_collection(self, coll: Collection, changes: dict) -> None:
        for key in ("waitForSync", "cacheEnabled", "schema", "computedValues",
                    "replicationFactor", "writeConcern"):
            if key in changes:
                value = changes[key]
                if key in ("replicationFactor", "writeConcern") and not self.is_cluster:
                    continue
                if key == "schema":
                    value = validation.normalise(value)
                if key == "computedValues":
                    value = computed.normalise(value)
                coll.props[key] = value
        if "minReplicationFactor" in changes and self.is_cluster:
            coll.props["writeConcern"] = changes["minReplicationFactor"]
        self.structure_version += 1
        for shard in coll.shards:
            self.log_shard(shard, [walmod.Op(walmod.COLLECTION_CHANGE, coll.db.name, shard.cuid, shard.name,
                                             orjson.dumps(shapes.shard_definition(self, coll, shard)))])

    def rename_collection(self, coll: Collection, new_name: str) -> None:
        if new_name == coll.name:
            return  # renaming to the current name is a no-op, not a conflict
        if self.is_cluster:
            raise errors.ArangoError(errors.CLUSTER_UNSUPPORTED, "rename is not supported in a cluster", 501)
        db = coll.db
        if not valid_collection_name(new_name) or (new_name.startswith("_") != coll.is_system):
            raise errors.ArangoError(errors.ILLEGAL_NAME, "illegal name")
        if new_name in db.collections or new_name in db.views:
            raise errors.ArangoError(errors.DUPLICATE_NAME, "duplicate name")
        del db.collections[coll.name]
        coll.name = new_name
        coll.shards[0].name = new_name
        db.collections[new_name] = coll
        self.structure_version += 1
        self.log_shard(coll.shards[0], [walmod.Op(walmod.COLLECTION_RENAME, db.name, coll.shards[0].cuid,
                                                  new_name, orjson.dumps({"name": new_name}))])


def valid_database_name(name: object) -> bool:
    if not isinstance(name, str) or not name or len(name.encode()) > 128:
        return False
    if name != name.strip() or any(c in name for c in "/:") or any(ord(c) < 32 for c in name):
        return False
    return not name[0].isdigit() and name[0] not in "-."


def primary_index(coll: Collection) -> dict:
    return {"id": "0", "type": "primary", "name": "primary", "fields": ["_key"], "unique": True,
            "sparse": False, "selectivityEstimate": 1}


def edge_index(coll: Collection) -> dict:
    return {"id": "1", "type": "edge", "name": "edge", "fields": ["_from", "_to"], "unique": False,
            "sparse": False, "selectivityEstimate": 1}


def new_secret() -> str:
    return secrets.token_hex(16)
