"""Analyzers, arangosearch views and named graphs of one destination database.

* analyzers go through the analyzer API; one cannot be changed in place, so a changed one is dropped
  with ``force`` and re-created (views using it are re-linked when they are applied after it);
* named graphs (the ``_graphs`` system collection) go through the graph API, after their
  collections; dropping a graph keeps its collections, which replicate (and drop) as collections.
"""

from __future__ import annotations

from typing import Any

from dc2dc.pipeline.arango import errno
from dc2dc.pipeline.destination.structure_requests import StructureClient, covers, differs, same_members
from dc2dc.pipeline.structure_view import DatabaseView


async def _analyzers(client: StructureClient, db: str) -> dict[str, dict[str, Any]]:
    prefix = f"{db}::"
    result = (await client.get("/_api/analyzer", db=db))["result"]
    return {a["name"][len(prefix):]: a for a in result if a["name"].startswith(prefix)}


async def _drop_analyzer(client: StructureClient, db: str, name: str, action: str) -> None:
    await client.change("DELETE", f"/_api/analyzer/{db}::{name}", f"{action} {db}::{name}", db=db,
                        params={"force": True}, ok={errno.ARANGO_DATA_SOURCE_NOT_FOUND})


async def _views(client: StructureClient, db: str) -> dict[str, dict[str, Any]]:
    return {v["name"]: v for v in (await client.get("/_api/view", db=db))["result"]}


async def _drop_view(client: StructureClient, db: str, name: str, why: str = "") -> None:
    await client.change("DELETE", f"/_api/view/{name}", f"drop view {db}/{name}{why}", db=db,
                        ok={errno.ARANGO_DATA_SOURCE_NOT_FOUND})


async def _graphs(client: StructureClient, db: str) -> dict[str, dict[str, Any]]:
    return {g["_key"]: g for g in (await client.get("/_api/gharial", db=db))["graphs"]}


async def _drop_graph(client: StructureClient, db: str, name: str) -> None:
    # The graph's collections stay: they are replicated (and dropped) as collections.
    await client.change("DELETE", f"/_api/gharial/{name}", f"drop graph {db}/{name}", db=db,
                        params={"dropCollections": False}, ok={errno.GRAPH_NOT_FOUND})


async def drop_graphs_and_views(client: StructureClient, db: str, old: DatabaseView, new: DatabaseView) -> None:
    """Graphs and views the previous snapshot had and the new one has not (before their collections go)."""
    if old.graphs:
        graphs = await _graphs(client, db)
        for graph in old.graphs:
            if graph in graphs and graph not in new.graphs:
                await _drop_graph(client, db, graph)
    views = await _views(client, db) if old.views else {}
    for view in old.views:
        if view in views and view not in new.views:
            await _drop_view(client, db, view)


async def drop_analyzers(client: StructureClient, db: str, old: DatabaseView, new: DatabaseView) -> None:
    """Analyzers the previous snapshot had and the new one has not (after the collections and views)."""
    analyzers = await _analyzers(client, db) if old.analyzers else {}
    for name in old.analyzers:
        if name in analyzers and name not in new.analyzers:
            await _drop_analyzer(client, db, name, "drop analyzer")


async def apply_analyzers(client: StructureClient, db: str, want: DatabaseView) -> None:
    if not want.analyzers:
        return
    have = await _analyzers(client, db)
    for name, spec in want.analyzers.items():
        body = {"name": name, "type": spec.get("type"), "properties": spec.get("properties") or {},
                "features": sorted(spec.get("features") or [])}
        current = have.get(name)
        if current is not None:
            same = (current.get("type") == body["type"] and covers(current.get("properties") or {},
                    body["properties"]) and sorted(current.get("features") or []) == body["features"])
            if same:
                continue
            await _drop_analyzer(client, db, name, "drop changed analyzer")
        await client.change("POST", "/_api/analyzer", f"create analyzer {db}::{name}", db=db, json=body)


async def apply_views(client: StructureClient, db: str, want: DatabaseView) -> None:
    if not want.views:
        return
    have = await _views(client, db)
    for name, spec in want.views.items():
        vtype = spec.get("type", "arangosearch")
        props = spec.get("properties") or {}
        current = have.get(name)
        if current is not None and current.get("type") != vtype:
            await _drop_view(client, db, name, " (type changed)")
            current = None
        if current is None:
            await client.change("POST", "/_api/view", f"create view {db}/{name}", db=db,
                                json={"name": name, "type": vtype, **props}, ok={errno.ARANGO_DUPLICATE_NAME})
            continue
        actual = await client.get(f"/_api/view/{name}/properties", db=db)
        changed = differs(actual, props)
        if changed:
            await client.change("PUT", f"/_api/view/{name}/properties",
                                f"change {', '.join(changed)} of view {db}/{name}", db=db, json=props)


async def apply_graphs(client: StructureClient, db: str, want: DatabaseView) -> None:
    if not want.graphs:
        return
    have = await _graphs(client, db)
    for name, spec in want.graphs.items():
        shape = {k: spec.get(k) or [] for k in ("edgeDefinitions", "orphanCollections")}
        current = have.get(name)
        if current is not None:
            if all(same_members(current.get(k) or [], v) for k, v in shape.items()):
                continue
            await _drop_graph(client, db, name)
        await client.change("POST", "/_api/gharial", f"create graph {db}/{name}", db=db,
                            json={"name": name, **shape}, ok={errno.GRAPH_DUPLICATE})
