"""Beyond one pair: a chain A -> B -> C (B applies A's changes and is itself a source for C) and a
fan-out A -> B + A -> C (one source stream, mirrored to two DCs) both converge."""

from __future__ import annotations

import pytest

from e2e.conftest import PipelineFactory
from e2e.harness import Pipeline, wait_in_sync

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


def _write_workload(pipeline: Pipeline) -> None:
    pipeline.db("A").create_database("e2e_multi")
    db = pipeline.db("A", "e2e_multi")
    people = db.create_collection("people", shard_count=3)
    people.add_index({"type": "persistent", "fields": ["name"], "name": "by_name"})
    knows = db.create_collection("knows", edge=True, shard_count=2)
    people.import_bulk([{"_key": f"p{i}", "name": f"person {i}"} for i in range(3000)], halt_on_error=True)
    knows.import_bulk([{"_key": f"e{i}", "_from": f"people/p{i}", "_to": f"people/p{(i + 1) % 3000}"}
                       for i in range(1000)], halt_on_error=True)
    people.update_many([{"_key": f"p{i}", "name": f"renamed {i}"} for i in range(0, 3000, 10)])
    people.delete_many([{"_key": f"p{i}"} for i in range(1, 3000, 10)])


def test_chain_a_to_b_to_c_converges(pipeline_factory: PipelineFactory) -> None:
    pipeline = pipeline_factory(("A", "B", "C"), (("A", "B"), ("B", "C")))
    pipeline.start_flow_workers()
    assert ("destination", "B") in pipeline.workers and ("source", "B") in pipeline.workers

    _write_workload(pipeline)

    wait_in_sync(pipeline, "A", "B", timeout=240)
    wait_in_sync(pipeline, "B", "C", timeout=240)
    assert pipeline.db("C", "e2e_multi").collection("people").count() == 2700


def test_fan_out_a_to_b_and_a_to_c_converges(pipeline_factory: PipelineFactory) -> None:
    pipeline = pipeline_factory(("A", "B", "C"), (("A", "B"), ("A", "C")))
    pipeline.start_flow_workers()

    _write_workload(pipeline)

    wait_in_sync(pipeline, "A", "B", timeout=240)
    wait_in_sync(pipeline, "A", "C", timeout=240)
    assert pipeline.db("C", "e2e_multi").collection("people").count() == 2700
