"""Access levels of users on databases and collections, resolved as ArangoDB does:
an explicit grant wins, then the `*` wildcard, then nothing."""
from __future__ import annotations

from . import errors
from .auth import Principal
from .model import Cluster

LEVELS = {"none": 0, "ro": 1, "rw": 2}


def database_level(cluster: Cluster, who: Principal, db: str) -> str:
    if who.superuser or who.user == "root":
        return "rw"
    user = cluster.users.get(who.user or "")
    if user is None:
        return "none"
    for name in (db, "*"):
        grant = user.grants.get(name)
        if grant and grant.get("permission") not in (None, "undefined"):
            return grant["permission"]
    return "none"


def collection_level(cluster: Cluster, who: Principal, db: str, coll: str) -> str:
    if who.superuser or who.user == "root":
        return "rw"
    user = cluster.users.get(who.user or "")
    if user is None:
        return "none"
    for dbname in (db, "*"):
        grant = user.grants.get(dbname)
        if not grant:
            continue
        colls = grant.get("collections", {})
        for cname in (coll, "*"):
            level = colls.get(cname)
            if level not in (None, "undefined"):
                return level
    return database_level(cluster, who, db)


def require_database(cluster: Cluster, who: Principal, db: str, level: str) -> None:
    if LEVELS[database_level(cluster, who, db)] < LEVELS[level]:
        raise errors.ArangoError(errors.FORBIDDEN, "forbidden", 403)


def require_collection(cluster: Cluster, who: Principal, db: str, coll: str, level: str) -> None:
    if LEVELS[collection_level(cluster, who, db, coll)] < LEVELS[level]:
        raise errors.ArangoError(errors.FORBIDDEN, "forbidden", 403)


def require_admin(cluster: Cluster, who: Principal) -> None:
    """Server administration (users, databases, WAL, replication): rw on `_system`."""
    require_database(cluster, who, "_system", "rw")
