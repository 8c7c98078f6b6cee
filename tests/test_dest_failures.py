"""A destination worker whose rebalance handling fails stops loudly instead of holding its partitions idle
(issue 8, case 7). Real Kafka, a stand-in B; the failure is injected into the worker's own activation."""

from __future__ import annotations

import asyncio

import pytest
from aiokafka import TopicPartition

from dc2dc.agents.destination import DestinationWorker
from dc2dc.pipeline.arango.http import ArangoHttp
from dc2dc.pipeline.errors import ConfigError
from dest_helpers import http, kafka_b, standin_b  # noqa: F401 (fixtures)
from test_dest_worker import Source, coll, config, source  # noqa: F401 (fixture)


class _ActivationFails(DestinationWorker):
    async def _activate(self, tp: TopicPartition) -> None:
        raise ConfigError("the applied structure cannot be read (injected)")


async def test_a_failed_activation_fails_the_worker_instead_of_holding_the_control_partition(
    http: ArangoHttp, source: Source,  # noqa: F811
) -> None:
    await source.topics("s11")
    await source.structure(1, f"d{source.src}", {"c": coll("c1", ["s11"])})
    worker = _ActivationFails(config(source), http)
    await worker.start()
    try:
        with pytest.raises(ConfigError, match="injected"):
            await asyncio.wait_for(worker.wait(), timeout=60)
        assert worker.stats.failed is not None and "rebalance" in worker.stats.failed
        assert not worker.stats.active
    finally:
        await worker.stop()
