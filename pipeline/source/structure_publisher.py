"""Publishes structure epochs on the control topic, resuming the epoch count from the topic.

The control producer is transactional (``transactional_id`` ``dc2dc-src.<src>.control``), so a
second structure publisher fences the first; after fencing, the last committed control message
gives the current epoch and snapshot. A snapshot is published only when it differs from the
last one (epochs are cheap for destinations, but each one makes them diff the whole structure).

Epochs never start again from 1. A control topic found empty (first start, or re-created; it
has no retention limit, see ``topics.admin``) begins a new generation (``topics.generation``)
whose first epoch is the generation's id, a millisecond clock value: above every epoch of an
earlier generation, which counted up by one per structure change (at most one per poll) from
its own, older id. Data messages name the epoch they need by number alone, so epochs must order
across generations: a destination holding epoch 7 of the old generation would otherwise take
epochs 1..7 of the new one as applied, and discard the data of collections created since.
"""

from __future__ import annotations

import time
from typing import Any

from aiokafka import AIOKafkaProducer

from dc2dc.pipeline.source.shard_producer import RecordEncoder, read_last_committed
from dc2dc.topics.chunking import ChunkLimits, to_records
from dc2dc.topics.envelope import Envelope, Op
from dc2dc.topics.generation import new_generation
from dc2dc.topics.names import control_topic


class StructurePublisher:
    """Epoch counter + transactional producer of one source DC's control topic."""

    def __init__(self, *, bootstrap: str, src: str, limits: ChunkLimits = ChunkLimits(),
                 encoder: RecordEncoder | None = None) -> None:
        self.src = src
        self.topic = control_topic(src)
        self._bootstrap = bootstrap
        self._limits = limits
        self._encoder: RecordEncoder = encoder or (lambda env: to_records(env, limits))
        self._producer: AIOKafkaProducer | None = None
        self.epoch = 0
        self.gen = 0
        self.snapshot: dict[str, Any] | None = None

    async def start(self) -> int:
        """Fence older publishers, then read back the last epoch; returns it.

        On an empty topic a new generation begins, and the "last" epoch is the one just below
        its first."""
        producer = AIOKafkaProducer(bootstrap_servers=self._bootstrap,
                                    transactional_id=f"dc2dc-src.{self.src}.control",
                                    enable_idempotence=True, acks="all",
                                    max_request_size=self._limits.max_message_bytes)
        await producer.start()
        self._producer = producer
        last = await read_last_committed(self._bootstrap, self.topic)
        if last is not None:
            self.gen, self.epoch, self.snapshot = last.gen, last.epoch, last.body
        else:
            self.gen = new_generation()
            self.epoch = self.gen - 1
        return self.epoch

    async def stop(self) -> None:
        if self._producer is not None:
            producer, self._producer = self._producer, None
            await producer.stop()

    async def publish(self, snapshot: dict[str, Any]) -> bool:
        """Publish ``snapshot`` as the next epoch if it differs from the last; True if published."""
        if self._producer is None:
            raise RuntimeError("StructurePublisher.publish before start")
        if snapshot == self.snapshot:
            return False
        epoch = self.epoch + 1
        env = Envelope(op=Op.STRUCTURE, src=self.src, seq=epoch, epoch=epoch, gen=self.gen,
                       ts=int(time.time() * 1000), body=snapshot)
        async with self._producer.transaction():
            for value, headers in self._encoder(env):
                await self._producer.send(self.topic, value=value, headers=headers, partition=0)
        self.epoch, self.snapshot = epoch, snapshot
        return True
