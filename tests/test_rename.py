"""A collection renamed in a single-server source is renamed in the destination, documents kept (issue 8, case 5).

Single servers can rename collections (clusters cannot). The collection keeps its id, so its
dc2dc shard (``c<id>``) and shard topic stay the same; only the name in the structure snapshot
changes. The destination must carry out a rename, never drop the old name and create an empty
collection under the new one. Real source and destination workers on real Kafka, stand-in
single servers on both sides.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from dc2dc.agents.destination import DestinationConfig, DestinationWorker
from dc2dc.agents.source import SourceComponent
from dc2dc.devcluster.standin.launcher import start_standin, stop_standin
from dc2dc.pipeline.arango.http import ArangoHttp
from dc2dc.pipeline.destination.structure_apply import StructureApplier
from dc2dc.pipeline.ops.check import compare
from dc2dc.pipeline.ops.cli import main
from dest_helpers import all_docs, kafka_b, standin_b  # noqa: F401 (fixtures)
from source_helpers import create_collection, insert, new_dc_id, run_standin, source_settings, wait_until


@pytest.fixture
def single_a(tmp_path: Path) -> Iterator[dict[str, Any]]:
    yield from run_standin(tmp_path / "a", mode="single")


@pytest.fixture
def single_b(tmp_path: Path) -> Iterator[dict[str, Any]]:
    state = tmp_path / "b"
    try:
        yield start_standin(state, "B", mode="single")
    finally:
        stop_standin(state, "B")


def _client(info: dict[str, Any]) -> ArangoHttp:
    return ArangoHttp(info["coordinator"], username=info["username"], password=info["password"])


async def _names(http: ArangoHttp, db: str) -> set[str]:
    listing = (await http.request("GET", "/_api/collection", db=db, params={"excludeSystem": True})).json()
    return {c["name"] for c in listing["result"]}


def _topology(tmp_path: Path, src: str, kafka: str, a: dict[str, Any], b: dict[str, Any]) -> Path:
    for dc, info in ((src, a), ("B", b)):
        secret = tmp_path / f"{dc}.password"
        secret.write_text(info["password"])
        secret.chmod(0o600)   # dc2dc refuses secret files others can read
    path = tmp_path / "topology.toml"
    path.write_text(f"""
[dc.{src}]
kafka = "{kafka}"
arangodb = "{a['coordinator']}"
password_file = "{tmp_path / f'{src}.password'}"

[dc.B]
kafka = "{kafka}"
arangodb = "{b['coordinator']}"
password_file = "{tmp_path / 'B.password'}"

[[replication]]
from = "{src}"
to = "B"
""")
    return path


async def test_a_renamed_collection_keeps_its_documents_and_follows_the_new_name(
    single_a: dict[str, Any], single_b: dict[str, Any], kafka_b: str, tmp_path: Path,  # noqa: F811
) -> None:
    src = new_dc_id()
    topology = _topology(tmp_path, src, kafka_b, single_a, single_b)
    async with _client(single_a) as a, _client(single_b) as b:
        await a.request("POST", "/_api/database", json={"name": "shop"})
        (shard,) = await create_collection(a, "shop", "items", shards=1)
        await insert(a, "shop", "items", [{"_key": f"old{i}", "n": i} for i in range(100)])
        dst = DestinationConfig(src=src, dst="B", bootstrap=kafka_b, metadata_max_age_ms=1000, feedback_interval_s=1)
        async with SourceComponent(source_settings(single_a, kafka_b, src)) as source, \
                DestinationWorker(dst, b) as worker:
            await wait_until(lambda: _count(b, "shop", "items", 100), timeout=90, what="initial sync in B")

            # Writes right before and right after the rename share the source's tail chunks.
            await insert(a, "shop", "items", [{"_key": f"mid{i}"} for i in range(20)])
            await a.request("PUT", "/_api/collection/items/rename", db="shop", json={"name": "goods"})
            await insert(a, "shop", "goods", [{"_key": f"new{i}"} for i in range(50)])

            with contextlib.suppress(AssertionError):   # the assertions below say what is missing
                await wait_until(lambda: _count(b, "shop", "goods", 170), timeout=90, what="170 documents in goods")
            assert await _names(b, "shop") == {"goods"}
            keys = set(await all_docs(b, "shop", "goods"))
            assert keys == set(await all_docs(a, "shop", "goods")), f"B holds {len(keys)} of 170, e.g. {sorted(keys)[:5]}"
            # The collection id is its identity: the same shard (and topic) carried it throughout.
            assert set(source.shards) == {shard} and source.shards[shard].info.coll == "goods"

            report = await compare(a, b)
            assert report.in_sync, report.as_dict()

            async def status_in_sync() -> bool:
                result = await asyncio.to_thread(CliRunner().invoke, main,
                                                 ["status", "--topology", str(topology), "--json"])
                shown = json.loads(result.output)
                return result.exit_code == 0 and shown["in_sync"] and [s["shard"] for s in shown["shards"]] == [shard]

            await wait_until(status_in_sync, timeout=30, what="dc2dc status in sync")
            assert worker.stats.stopped == {} and worker.stats.failed is None and worker.stats.discarded == 0


async def _count(http: ArangoHttp, db: str, coll: str, want: int) -> bool:
    try:
        return len(await all_docs(http, db, coll)) == want
    except Exception:   # not in B yet
        return False


def snapshot(db: str, names: dict[str, str]) -> dict[str, Any]:
    return {"databases": {db: {"options": {}, "collections": {
        name: {"cid": cid, "type": 2, "shards": [f"c{cid}"], "indexes": [], "properties": {}}
        for name, cid in names.items()}}}, "users": {}}


async def test_collections_that_swap_names_are_renamed_in_the_destination(
    single_b: dict[str, Any],
) -> None:
    before, after = snapshot("swap", {"x": "1", "y": "2"}), snapshot("swap", {"x": "2", "y": "1", "z": "3"})
    async with _client(single_b) as b:
        applier = StructureApplier(b)
        await applier.apply(before)
        await insert(b, "swap", "x", [{"_key": "was_x"}])
        await insert(b, "swap", "y", [{"_key": "was_y"}])

        await applier.apply(after, before)

        assert await _names(b, "swap") == {"x", "y", "z"}
        assert set(await all_docs(b, "swap", "y")) == {"was_x"}
        assert set(await all_docs(b, "swap", "x")) == {"was_y"}
        assert await applier.apply(after, after) == []
        # A retry with the same previous snapshot (the first try failed after its renames) swaps nothing back.
        await applier.apply(after, before)
        assert set(await all_docs(b, "swap", "y")) == {"was_x"}


async def test_a_cluster_destination_which_cannot_rename_gets_the_documents_copied_with_their_revisions(
    standin_b: dict[str, Any],  # noqa: F811
) -> None:
    async with _client(standin_b) as b:
        applier = StructureApplier(b)
        before, after = snapshot("moved", {"old": "7"}), snapshot("moved", {"new": "7"})
        await applier.apply(before)
        await b.request("POST", "/_api/document/old", db="moved", params={"isRestore": True},
                        json=[{"_key": f"k{i}", "_rev": f"_rev{i}", "n": i} for i in range(2500)])

        await applier.apply(after, before)

        assert await _names(b, "moved") == {"new"}
        docs = await all_docs(b, "moved", "new")
        assert {k: (d["_rev"], d["n"]) for k, d in docs.items()} == {f"k{i}": (f"_rev{i}", i) for i in range(2500)}
        assert await applier.apply(after, after) == []


async def test_a_name_freed_by_a_drop_and_taken_by_a_rename_keeps_the_renamed_documents_on_a_retry(
    single_b: dict[str, Any],
) -> None:
    before, after = snapshot("reuse", {"a": "1", "b": "2"}), snapshot("reuse", {"b": "1"})
    async with _client(single_b) as b:
        applier = StructureApplier(b)
        await applier.apply(before)
        await insert(b, "reuse", "a", [{"_key": "was_a"}])
        await insert(b, "reuse", "b", [{"_key": "was_b"}])

        for _ in range(2):   # the second time as a retry after a failure later in the same apply
            await applier.apply(after, before)
            assert await _names(b, "reuse") == {"b"}
            assert set(await all_docs(b, "reuse", "b")) == {"was_a"}
