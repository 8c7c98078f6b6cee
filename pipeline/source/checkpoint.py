"""The commit protocol of one tail chunk: send → Kafka commit → advance the tail position.

What the tail read in one chunk is collected here per shard (changes, a leader gap's held units,
heartbeats). :meth:`TailCheckpoint.commit` then makes it durable in a fixed order, modelled on
quix-streams' ``checkpointing/checkpoint.py``:

1. every shard's batch is sent as one Kafka transaction, produced and committed
   (:meth:`CheckpointSink.send`); shards go concurrently, each on its own producer;
2. each shard whose transaction committed advances its resume tick (:meth:`CheckpointSink.sent`),
   so a re-read of the same chunk skips it; one whose batch went stale (it began a resync) does not;
3. only when every shard committed does the tail position advance (``advance_tail``).

A failed send leaves the tail where it was, so the chunk is read again, and the shards that did
commit skip what they already hold: nothing is lost, nothing sent twice.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from dc2dc.topics.envelope import Envelope


class CheckpointSink(Protocol):
    async def send(self, shard: str, envs: list[Envelope], generation: int) -> bool:
        """Produce and commit ``envs`` as one Kafka transaction; False (nothing sent) when the
        shard left ``generation`` meanwhile."""

    def sent(self, shard: str, tick: int, count: int) -> None:
        """The shard's topic now holds every change of the shard up to ``tick``."""


@dataclass
class _Batch:
    generation: int
    tick: int = 0
    envs: list[Envelope] = field(default_factory=list)


class TailCheckpoint:
    """The shard batches of one tail chunk (see module docstring)."""

    def __init__(self) -> None:
        self._batches: dict[str, _Batch] = {}

    def __contains__(self, shard: str) -> bool:
        return shard in self._batches

    def tick(self, shard: str) -> int:
        """The highest tick collected for ``shard`` so far (0: none)."""
        batch = self._batches.get(shard)
        return batch.tick if batch else 0

    def add(self, shard: str, envs: list[Envelope], tick: int, generation: int, *, first: bool = False) -> None:
        """Collect ``envs`` (up to ``tick``) for ``shard``; ``first`` puts them before what it has.

        The generation is the shard's when its first envelopes were collected: a batch belongs
        to the stream it was routed in.
        """
        batch = self._batches.setdefault(shard, _Batch(generation))
        at = 0 if first else len(batch.envs)
        batch.envs[at:at] = envs
        batch.tick = max(batch.tick, tick)

    async def commit(self, sink: CheckpointSink, advance_tail: Callable[[], None]) -> None:
        """Send every batch, advance the shards that committed, then the tail (see module docstring)."""
        shards = list(self._batches)
        results = await asyncio.gather(*(self._send(sink, shard) for shard in shards), return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                raise result
        advance_tail()

    async def _send(self, sink: CheckpointSink, shard: str) -> None:
        batch = self._batches[shard]
        if await sink.send(shard, batch.envs, batch.generation):
            sink.sent(shard, batch.tick, len(batch.envs))
