"""Initial sync: a destination that joins after the source holds 100,000 documents, while the
source keeps taking writes, ends with exactly the source's data (dump chained to the tail, no gap)."""

from __future__ import annotations

import time

import pytest

from e2e.conftest import PipelineFactory
from e2e.harness import Pipeline, Writer, wait_in_sync

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

PRELOADED = 100_000


def _all_shards_live(pipeline: Pipeline) -> bool:
    status = pipeline.workers[("source", "A")].status()
    if status is None:  # busy past the status call's timeout: ask again
        return False
    shards = status["SourceComponent"]["shards"]
    return bool(shards) and all(s["live"] for s in shards.values())


def test_destination_joining_after_100000_documents_with_writes_during_initial_sync_converges(
        pipeline_factory: PipelineFactory) -> None:
    pipeline = pipeline_factory()
    pipeline.db("A").create_database("e2e_initial")
    coll = pipeline.db("A", "e2e_initial").create_collection("items", shard_count=4)
    for start in range(0, PRELOADED, 5000):
        coll.import_bulk([{"_key": f"k{i}", "v": 0, "pad": "x" * 200} for i in range(start, start + 5000)],
                         halt_on_error=True)

    writer = Writer(pipeline, "A", "e2e_initial", "items", existing=PRELOADED, seed=2)
    writer.start()
    try:
        pipeline.start_worker("source", "A")
        pipeline.start_worker("destination", "B")
        writes_before_live = writer.writes
        writes_during_sync = 0
        deadline = time.monotonic() + 300
        while not _all_shards_live(pipeline):
            assert time.monotonic() < deadline, pipeline.statuses()
            writes_during_sync = writer.writes - writes_before_live
            time.sleep(0.5)
        time.sleep(5)  # and some writes once every shard is live
    finally:
        writer.finish()

    wait_in_sync(pipeline, timeout=300)

    source = pipeline.workers[("source", "A")].status()["SourceComponent"]
    syncs = [s["sync"] for s in source["shards"].values()]
    print(f"initial sync: {[(s['shard'], s['docs'], s['seconds']) for s in syncs]}; "
          f"{writes_during_sync} writes in A during it, {writer.writes} in all")
    assert all(s["reason"] == "initial" for s in syncs)
    assert sum(s["docs"] for s in syncs) >= PRELOADED
    assert writes_during_sync > 0
    assert coll.count() == len(writer.keys)
    b_items = pipeline.db("B", "e2e_initial").collection("items")
    assert b_items.count() == len(writer.keys)
