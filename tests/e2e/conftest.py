"""Fixtures of the end-to-end tests: real Kafka, real MirrorMaker 2, stand-in ArangoDB, real workers.

* ``shared_pipeline`` (module): DCs A -> B with a source worker in A and a destination worker in
  B, running for the whole module. Tests that can share it use database names unique to the
  test; since convergence is checked over the whole deployment, every test also re-checks that
  what earlier tests replicated stayed in sync.
* ``pipeline_factory`` (function): a fresh environment for a test that needs to control when
  workers start, which DCs exist (initial sync, restarts, chain, fan-out) or which ArangoDB
  release (3.11, 3.12) the stand-ins answer as.

Everything started here is stopped at teardown, pass or fail.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from e2e.harness import Pipeline

PipelineFactory = Callable[..., Pipeline]


@pytest.fixture(scope="module")
def shared_pipeline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pipeline]:
    pipeline = Pipeline.start(tmp_path_factory.mktemp("e2e_shared"))
    try:
        pipeline.start_flow_workers()
        yield pipeline
    finally:
        pipeline.close()


@pytest.fixture
def pipeline_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PipelineFactory]:
    started: list[Pipeline] = []

    def make(dcs: tuple[str, ...] = ("A", "B"), flows: tuple[tuple[str, str], ...] = (("A", "B"),),
             arangodb_version: str = "3.12") -> Pipeline:
        pipeline = Pipeline.start(tmp_path_factory.mktemp("e2e"), dcs, flows, arangodb_version)
        started.append(pipeline)
        return pipeline

    try:
        yield make
    finally:
        for pipeline in started:
            pipeline.close()
