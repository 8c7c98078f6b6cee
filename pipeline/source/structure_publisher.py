"""Publishes structure epochs on the control topic, resuming the epoch count from the topic.

The control producer is transactional (``topics.names.control_transactional_id``), so a
second structure publisher fences the first (``pipeline.source.fenced_writer``); after fencing,
the last committed control message gives the current epoch and snapshot. A snapshot is published only when it differs from the
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

from dc2dc.pipeline.source.fenced_writer import FencedWriter
from dc2dc.pipeline.source.shard_producer import RecordEncoder
from dc2dc.topics.chunking import ChunkLimits, to_records
from dc2dc.topics.envelope import Envelope, Op
from dc2dc.topics.generation import new_generation
from dc2dc.topics.names import control_topic, control_transactional_id


class StructurePublisher(FencedWriter):
    """Epoch counter + transactional producer of one source DC's control topic."""

    def __init__(self, *, bootstrap: str, src: str, limits: ChunkLimits = ChunkLimits(),
                 encoder: RecordEncoder | None = None) -> None:
        super().__init__(bootstrap=bootstrap, topic=control_topic(src), transactional_id=control_transactional_id(src),
                         max_request_size=limits.max_message_bytes)
        self.src = src
        self._encoder: RecordEncoder = encoder or (lambda env: to_records(env, limits))
        self.epoch = 0
        self.gen = 0
        self.snapshot: dict[str, Any] | None = None

    async def start(self) -> int:
        """Fence older publishers, then read back the last epoch; returns it.

        On an empty topic a new generation begins, and the "last" epoch is the one just below
        its first."""
        last = await self._fence()
        if last is not None:
            self.gen, self.epoch, self.snapshot = last.gen, last.epoch, last.body
        else:
            self.gen = new_generation()
            self.epoch = self.gen - 1
        return self.epoch

    async def publish(self, snapshot: dict[str, Any]) -> bool:
        """Publish ``snapshot`` as the next epoch if it differs from the last; True if published."""
        if self._producer is None:
            raise RuntimeError("StructurePublisher.publish before start")
        if snapshot == self.snapshot:
            return False
        epoch = self.epoch + 1
        env = Envelope(op=Op.STRUCTURE, src=self.src, seq=epoch, epoch=epoch, gen=self.gen,
                       ts=int(time.time() * 1000), body=snapshot)
        await self._transaction(self._encoder(env))
        self.epoch, self.snapshot = epoch, snapshot
        return True
