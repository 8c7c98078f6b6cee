"""Make the destination's structure match a structure snapshot from the control topic.

A snapshot is the *full* desired structure of the source (``ARCHITECTURE.md`` section 5,
``pipeline.source.structure_read`` on the source side), read here through its typed view
(``pipeline.structure_view``). Applying one is a diff in two phases:

1. drops, in reverse dependency order: users -> graphs -> views -> collections (and indexes) ->
   analyzers -> databases. Only what the *previously applied* snapshot had is ever dropped, so
   objects that exist only in the destination (its own databases, users, dc2dc's ``_dc2dc_*``
   collections) are never touched. Collections renamed in the source are renamed here in this
   phase (``collection_apply``).
2. creates and changes in dependency order: databases -> analyzers -> collections -> indexes ->
   views -> graphs -> users/permissions.

Every step compares against what the destination actually has, so applying a snapshot twice
changes nothing the second time, and a destination that crashed half-way heals on the next apply.

System collections (names starting with ``_``) are never created, changed or dropped as
collections here; the destination half of the rules in ``pipeline.source.structure_read``:
``_users`` through the user API (``user_apply``, ``root`` left alone), ``_analyzers`` and
``_graphs`` through their APIs (``search_apply``), ``_dc2dc_*`` and every other system
collection never touched.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from dc2dc.pipeline.arango import errno
from dc2dc.pipeline.arango.http import ArangoHttp
from dc2dc.pipeline.destination import search_apply, user_apply
from dc2dc.pipeline.destination.collection_apply import CollectionApplier
from dc2dc.pipeline.destination.structure_requests import SYSTEM_DB, StructureClient
from dc2dc.pipeline.snapshot import is_system
from dc2dc.pipeline.structure_view import DatabaseView, StructureView

_ROOT = "root"
_DATABASE_OPTIONS = ("replicationFactor", "writeConcern", "sharding")


def _replicated(view: StructureView) -> dict[str, DatabaseView]:
    """The databases of a snapshot without system collections (never applied as collections)."""
    return {name: dataclasses.replace(db, collections={n: c for n, c in db.collections.items() if not is_system(n)})
            for name, db in view.databases.items()}


class StructureApplier:
    """Applies snapshots through one destination coordinator; ``apply`` returns what it changed."""

    def __init__(self, http: ArangoHttp) -> None:
        self._client = StructureClient(http)
        self._collections = CollectionApplier(self._client)

    async def apply(self, desired: dict[str, Any], previous: dict[str, Any] | None = None) -> list[str]:
        client = self._client
        client.reset()
        want_view, had_view = StructureView.parse(desired), StructureView.parse(previous)
        want, had = _replicated(want_view), _replicated(had_view)
        want_users = {u: v for u, v in want_view.users.items() if u != _ROOT}
        had_users = {u: v for u, v in had_view.users.items() if u != _ROOT}

        existing_dbs = set((await client.get("/_api/database", db=SYSTEM_DB))["result"])
        # phase 1: drops, reverse dependency order
        for user in sorted(set(had_users) - set(want_users)):
            await user_apply.drop_user(client, user)
        for name, old in had.items():
            if name not in existing_dbs:
                continue
            if name not in want:
                if name != SYSTEM_DB:
                    await client.change("DELETE", f"/_api/database/{name}", f"drop database {name}",
                                        ok={errno.ARANGO_DATABASE_NOT_FOUND})
                    existing_dbs.discard(name)
                continue
            await search_apply.drop_graphs_and_views(client, name, old, want[name])
            # Renamed collections are known under their new names from here on.
            old.collections = await self._collections.drop_and_rename(name, old.collections, want[name].collections)
            await search_apply.drop_analyzers(client, name, old, want[name])
        # phase 2: creates and changes, dependency order
        for name, db in want.items():
            if name not in existing_dbs:
                await self._create_database(name, db.options)
        for name, db in want.items():
            old = had.get(name, DatabaseView())
            await search_apply.apply_analyzers(client, name, db)
            await self._collections.create_and_change(name, db.collections, old.collections)
            await search_apply.apply_views(client, name, db)
            await search_apply.apply_graphs(client, name, db)
        for user, spec in want_users.items():
            await user_apply.apply_user(client, user, spec, had_users.get(user) or {})
        return client.actions

    async def _create_database(self, name: str, options: dict[str, Any]) -> None:
        body: dict[str, Any] = {"name": name}
        opts = {k: v for k, v in options.items() if v is not None and k in _DATABASE_OPTIONS}
        if opts:
            body["options"] = opts
        await self._client.change("POST", "/_api/database", f"create database {name}", db=SYSTEM_DB, json=body,
                                  ok={errno.ARANGO_DUPLICATE_NAME})
