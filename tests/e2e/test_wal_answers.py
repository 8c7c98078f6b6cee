"""What real ArangoDB servers answer on `/_api/wal/tail` (issue 10), through the whole pipeline on
3.12 and on 3.11: B ends with exactly A's data, and no WAL entry is read or sent twice.

The stand-ins answer as the recorded real servers do:

* idle polls are 204 with ``lastscanned`` *below* ``from`` (from-1 on 3.12, from-3 on 3.11);
* a collection created, written and dropped between two structure polls shows up only as its
  drop marker (2001) — a cuid dc2dc never saw — with checkmore true and lastscanned = lasttick
  above lastincluded;
* the next poll is a 204 after the drop's ticks that carry no marker (filtered ticks).
"""

from __future__ import annotations

import asyncio
import time

import pytest

from dc2dc.topics.envelope import Op
from e2e.conftest import PipelineFactory
from e2e.harness import Pipeline, stats_sum, wait_in_sync
from source_helpers import read_shards

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


def _create_write_drop(pipeline: Pipeline, name: str) -> None:
    """The recorded examples' sequence, done at once so no structure poll sees the collection."""
    db = pipeline.db("A", "e2e_wal")
    coll = db.create_collection(name, shard_count=2)
    coll.insert({"_key": "p1", "name": "flux compensator"})
    coll.insert({"_key": "p2", "name": "hybrid hovercraft", "hp": 5100})
    coll.delete("p1")
    coll.update({"_key": "p2", "name": "broken hovercraft"})
    db.delete_collection(name)


def _source_stat(pipeline: Pipeline, counter: str) -> int:
    return stats_sum(pipeline, "source", "A", counter)


@pytest.mark.parametrize("release", ["3.12", "3.11"])
def test_idle_polls_dropped_collections_and_filtered_ticks_replicate_exactly(
        pipeline_factory: PipelineFactory, release: str) -> None:
    pipeline = pipeline_factory(arangodb_version=release)
    assert pipeline.db("A").version().startswith(release + ".")
    pipeline.db("A").create_database("e2e_wal")
    kept = pipeline.db("A", "e2e_wal").create_collection("kept", shard_count=2)
    kept.import_bulk([{"_key": f"k{i}", "v": 0} for i in range(200)], halt_on_error=True)
    pipeline.start_flow_workers()
    wait_in_sync(pipeline)

    time.sleep(3)  # idle: every poll is a 204 whose lastscanned lies below from
    kept.insert_many([{"_key": f"k{i}", "v": 1} for i in range(200, 300)])
    for i in range(3):
        _create_write_drop(pipeline, f"ephemeral{i}")
    kept.delete_many([{"_key": f"k{i}"} for i in range(50)])
    wait_in_sync(pipeline)

    for i in range(3, 5):  # dropped last: the tail ends on ticks without markers, then idles
        _create_write_drop(pipeline, f"ephemeral{i}")
    time.sleep(3)
    kept.insert({"_key": "last", "v": 2})
    wait_in_sync(pipeline)

    b = pipeline.db("B", "e2e_wal")
    assert b.collection("kept").count() == 251 and b.collection("kept").has("last")
    assert not [c["name"] for c in b.collections() if c["name"].startswith("ephemeral")]
    # Nothing read twice (a unit re-read is counted even when not re-sent), nothing lost or restarted.
    assert _source_stat(pipeline, "units_already_sent") == 0
    assert _source_stat(pipeline, "position_lost") == 0 and _source_stat(pipeline, "tail_restarts") == 0
    # The servers hid the dropped collections' data: dc2dc never had to resolve an unknown cuid.
    assert _source_stat(pipeline, "markers_of_dropped_collections") == 0
    shards = [s for s, st in pipeline.workers[("source", "A")].status()["SourceComponent"]["shards"].items()
              if st["coll"] == "kept"]
    streams = asyncio.run(read_shards(pipeline.env.bootstrap("A"), "A", shards))
    sent = [(e.tick, e.key) for envs in streams.values() for e in envs if e.op in (Op.INSERT, Op.REMOVE)]
    assert len(sent) == len(set(sent)) == 100 + 50 + 1, "every change of kept sent exactly once"
