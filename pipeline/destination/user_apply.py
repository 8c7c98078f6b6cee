"""Users and their grants in the destination, through the user API.

The ``root`` user is left alone (the caller filters it out): it is the destination's own
administrator, and copying the source's (say, deactivating it) could lock the destination's
operators out. Passwords cannot be read through the user API, so a user created here gets a random
password (nobody can log in with it) until an operator sets one; see the README's security notes.
"""

from __future__ import annotations

import secrets
from typing import Any

from dc2dc.pipeline.arango import errno
from dc2dc.pipeline.destination.structure_requests import SYSTEM_DB, StructureClient, covers
from dc2dc.pipeline.errors import ArangoError


async def drop_user(client: StructureClient, user: str) -> None:
    await client.change("DELETE", f"/_api/user/{user}", f"drop user {user}", db=SYSTEM_DB, ok={errno.USER_NOT_FOUND})


async def apply_user(client: StructureClient, user: str, spec: dict[str, Any], old: dict[str, Any]) -> None:
    active, extra = spec.get("active", True), spec.get("extra") or {}
    try:
        current = await client.get(f"/_api/user/{user}", db=SYSTEM_DB)
    except ArangoError as exc:
        if exc.error_num != errno.USER_NOT_FOUND:
            raise
        current = None
    if current is None:
        await client.change("POST", "/_api/user", f"create user {user}", db=SYSTEM_DB, ok={errno.USER_DUPLICATE},
                            json={"user": user, "passwd": secrets.token_urlsafe(24), "active": active, "extra": extra})
    elif current.get("active") != active or not covers(current.get("extra") or {}, extra):
        # PATCH, because PUT would reset the password. PATCH merges ``extra``, so an attribute
        # removed from a user's extra data in the source stays in the destination.
        await client.change("PATCH", f"/_api/user/{user}", f"change user {user}", db=SYSTEM_DB,
                            json={"active": active, "extra": extra})
    await _apply_permissions(client, user, spec.get("permissions") or {}, old.get("permissions") or {})


async def _apply_permissions(client: StructureClient, user: str, want: dict[str, Any], old: dict[str, Any]) -> None:
    have = (await client.get(f"/_api/user/{user}/database", db=SYSTEM_DB, params={"full": True}))["result"]
    for db in sorted(set(old) - set(want)):
        await client.change("DELETE", f"/_api/user/{user}/database/{db}", f"reset permission of {user} on {db}",
                            db=SYSTEM_DB, ok={errno.ARANGO_DATABASE_NOT_FOUND, errno.USER_NOT_FOUND})
    for db, perm in want.items():
        current = have.get(db) or {}
        level = perm.get("level")
        if level is not None and current.get("permission") != level:
            await client.change("PUT", f"/_api/user/{user}/database/{db}", f"grant {level} on {db} to {user}",
                                db=SYSTEM_DB, json={"grant": level})
        cur_colls = current.get("collections") or {}
        old_colls = (old.get(db) or {}).get("collections") or {}
        for coll in sorted(set(old_colls) - set(perm.get("collections") or {})):
            await client.change("DELETE", f"/_api/user/{user}/database/{db}/{coll}",
                                f"reset permission of {user} on {db}/{coll}", db=SYSTEM_DB,
                                ok={errno.ARANGO_DATA_SOURCE_NOT_FOUND, errno.ARANGO_DATABASE_NOT_FOUND})
        for coll, clevel in (perm.get("collections") or {}).items():
            if cur_colls.get(coll) != clevel:
                await client.change("PUT", f"/_api/user/{user}/database/{db}/{coll}",
                                    f"grant {clevel} on {db}/{coll} to {user}", db=SYSTEM_DB, json={"grant": clevel})
