"""Shared fixtures: real Kafka brokers and MirrorMaker 2 from ``devcluster/``, never mocks.

* ``kafka_two_dc`` (session): DCs ``A`` and ``B``, flow A -> B, so MM2 in B mirrors A's control
  and shard topics and MM2 in A mirrors ``dc2dc.A.feedback.B`` back. Yields a
  :class:`~dc2dc.devcluster.up.DevEnvironment`: ``.bootstrap("A")``, ``.topology()``,
  ``.kill_mirrormaker(dc)`` / ``.start_mirrormaker(dc)``, ``.restart_broker(dc)``. Tests share it,
  so they use topic names unique to the test and leave every process running as they found it.
* ``backbone_factory`` (function): ``backbone_factory(dcs=("A", "B", "C"), flows=(("A", "B"), ...))``
  starts an extra environment for one test; all of them are stopped when the test ends.

Everything started here is stopped at teardown, pass or fail.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import hypothesis  # noqa: F401 - imported early: a late first import inside hypothesis's pytest plugin trips CPython 3.11.7's AST recursion check (gh-106905) at session end
import pytest

from dc2dc.devcluster.up import DevEnvironment, EnvSpec, start_environment


@pytest.fixture(scope="session")
def kafka_two_dc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevEnvironment]:
    env = start_environment(EnvSpec(tmp_path_factory.mktemp("kafka_two_dc"), ("A", "B"), (("A", "B"),),
                                    arangodb=False))
    try:
        yield env
    finally:
        env.stop()


BackboneFactory = Callable[..., DevEnvironment]


@pytest.fixture
def backbone_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BackboneFactory]:
    started: list[DevEnvironment] = []

    def make(dcs: tuple[str, ...], flows: tuple[tuple[str, str], ...]) -> DevEnvironment:
        state_dir: Path = tmp_path_factory.mktemp("backbone")
        env = start_environment(EnvSpec(state_dir, dcs, flows, arangodb=False))
        started.append(env)
        return env

    try:
        yield make
    finally:
        for env in started:
            env.stop()
