"""The destination worker's Kafka consumers: built with the flow's names, guarded, stopped without hanging.

Offsets are never committed (positions in ArangoDB are the truth) and every consumer reads
``read_committed``, so records of aborted source transactions never arrive.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition

from dc2dc.agents.destination.config import DestinationConfig
from dc2dc.topics.names import control_group, control_topic, shard_topics_pattern

log = logging.getLogger(__name__)

Rebalanced = Callable[[set[TopicPartition]], Awaitable[None]]


def control_consumer(cfg: DestinationConfig, listener: ConsumerRebalanceListener) -> AIOKafkaConsumer:
    """The control topic has one partition, so its group picks one active worker per flow;
    any other worker of the flow waits as a standby until it gets the partition."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=cfg.bootstrap, group_id=control_group(cfg.group), enable_auto_commit=False,
        isolation_level="read_committed", auto_offset_reset="earliest",
        metadata_max_age_ms=cfg.metadata_max_age_ms)
    consumer.subscribe([control_topic(cfg.src)], listener=listener)
    return consumer


def shard_consumer(cfg: DestinationConfig, listener: ConsumerRebalanceListener) -> AIOKafkaConsumer:
    """Every shard topic of the source, by pattern: Faust cannot subscribe to patterns and would put
    every single-partition topic on one worker."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=cfg.bootstrap, group_id=cfg.group, enable_auto_commit=False,
        isolation_level="read_committed", auto_offset_reset="earliest",
        metadata_max_age_ms=cfg.metadata_max_age_ms, max_partition_fetch_bytes=8 * 1024 * 1024)
    consumer.subscribe(pattern=shard_topics_pattern(cfg.src), listener=listener)
    return consumer


class GuardedListener(ConsumerRebalanceListener):
    """Hands a rebalance to the worker; a failure there fails the worker.

    aiokafka only logs what a rebalance callback raises and carries on: a worker whose activation
    failed would hold the control partition and apply nothing (standbys never take over), and
    partitions whose assignment failed would have their records dropped from each fetch.
    """

    def __init__(self, fail: Callable[[str, BaseException], None], revoked: Rebalanced, assigned: Rebalanced) -> None:
        self._fail, self._on_revoked, self._on_assigned = fail, revoked, assigned

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        await self._guard(self._on_revoked, set(revoked))

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        await self._guard(self._on_assigned, set(assigned))

    async def _guard(self, handler: Rebalanced, tps: set[TopicPartition]) -> None:
        try:
            await handler(tps)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self._fail(f"rebalance ({handler.__name__})", exc)


async def close(client: AIOKafkaConsumer | AIOKafkaProducer, timeout_s: float = 15.0) -> None:
    """Stop a Kafka client without letting shutdown hang.

    A consumer's stop waits for its group coordination to finish; that can sit in a broker
    request for a long time (seen when the control loop had died and nobody polled any more).
    Nothing is lost by giving up: positions live in ArangoDB, and offsets are never committed.
    """
    try:
        await asyncio.wait_for(client.stop(), timeout_s)
    except asyncio.TimeoutError:
        log.warning("%s did not stop within %.0fs; abandoned", type(client).__name__, timeout_s)
    except Exception as exc:   # a client that fails while stopping is stopped enough
        log.warning("%s failed while stopping: %r", type(client).__name__, exc)
