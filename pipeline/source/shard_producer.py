"""The producer of one shard topic: transactional, fenced, and its own checkpoint store.

``transactional_id`` is derived from the source DC and the shard (``topics.names``), so when a
shard's producer starts anywhere, Kafka fences every older producer of that shard (a zombie
worker can no longer commit). Only *after* fencing does ``start`` read the last committed
message of the shard topic back (``pipeline.source.fenced_writer``, scanning back from the end
past transaction markers and aborted batches): nothing can be committed behind our back any
more, so that message is the true resume point — seq, source tick, source server, epoch, stream
generation, and whether a resync was left open. The source side keeps no other checkpoint. A
topic with no message (first start, emptied by retention, re-created) starts a new generation
(``topics.generation``): its seqs begin at 1 again, and the new id tells destinations that
they are not the old seqs they applied already.

``send`` writes a list of envelopes as ONE Kafka transaction and numbers them with contiguous
seqs continuing the topic's (chunks of one large document share a seq). A failed transaction is
aborted and the producer refuses further sends: the owner must restart it, which re-fences and
re-reads the position, so a half-sent batch can never leave a seq gap.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass

from aiokafka.errors import ProducerFenced

from dc2dc.pipeline.errors import Dc2dcError
from dc2dc.pipeline.source.fenced_writer import FencedWriter
from dc2dc.topics.chunking import ChunkLimits, to_records
from dc2dc.topics.codec import Headers
from dc2dc.topics.envelope import Envelope, Op
from dc2dc.topics.generation import new_generation
from dc2dc.topics.names import shard_topic, shard_transactional_id

log = logging.getLogger(__name__)

RecordEncoder = Callable[[Envelope], list[tuple[bytes, Headers]]]
_RESYNC_OPEN_OPS = frozenset({Op.RESYNC_BEGIN, Op.RESYNC_DOC, Op.RESYNC_REMOVE})


@dataclass
class ShardPosition:
    """Where a shard's topic stands: its last committed message."""

    seq: int = 0
    tick: int = 0
    server: str | None = None
    epoch: int = 0
    op: Op | None = None
    gen: int = 0

    @property
    def empty(self) -> bool:
        return self.seq == 0

    @property
    def resync_open(self) -> bool:
        """The last message belongs to a resync that never reached ``resync_end``."""
        return self.op in _RESYNC_OPEN_OPS

    @classmethod
    def of(cls, env: Envelope) -> ShardPosition:
        return cls(seq=env.seq, tick=int(env.tick), server=env.server, epoch=env.epoch, op=env.op, gen=env.gen)


class ProducerFailed(Dc2dcError):
    """A transaction of this producer failed; ``restart`` it (re-fence, re-read) before sending again."""

    retriable = True


class ShardFenced(Dc2dcError):
    """A newer producer of the same shard exists: this worker is a zombie and must stop.

    Not retriable on purpose: restarting would fence the newer owner in turn, and two workers
    would take the shard from each other forever.
    """


class ShardProducer(FencedWriter):
    """Transactional producer of one shard topic (see module docstring)."""

    def __init__(
        self,
        *,
        bootstrap: str,
        src: str,
        shard: str,
        limits: ChunkLimits = ChunkLimits(),
        encoder: RecordEncoder | None = None,
        producer_options: dict | None = None,
    ) -> None:
        super().__init__(bootstrap=bootstrap, topic=shard_topic(src, shard),
                         transactional_id=shard_transactional_id(src, shard),
                         max_request_size=limits.max_message_bytes, producer_options=producer_options)
        self.src = src
        self.shard = shard
        self._encoder: RecordEncoder = encoder or (lambda env: to_records(env, limits))
        self._failed = False
        self.position = ShardPosition()
        self.lock = asyncio.Lock()

    async def start(self) -> ShardPosition:
        """Fence older producers of this shard, then read the resume position from the topic."""
        last = await self._fence()
        if last is not None:
            self.position = ShardPosition.of(last)
        else:
            self.position = ShardPosition(gen=new_generation())
            log.info("%s is empty: its stream starts generation %d", self.topic, self.position.gen)
        self._failed = False
        return self.position

    @property
    def failed(self) -> bool:
        """A transaction failed: ``restart`` before the next ``send``."""
        return self._failed

    async def restart(self) -> ShardPosition:
        """After a failed transaction: re-fence and re-read the position (no-op if not failed).

        The failed transaction may or may not have been committed; the read-back tells.
        """
        async with self.lock:
            if self._failed:
                await self.stop()
                await self.start()
            return self.position

    async def send(self, envs: list[Envelope], guard: Callable[[], bool] | None = None) -> bool:
        """Number ``envs`` and commit them in one transaction; False (nothing sent) if ``guard()`` fails.

        ``guard`` is checked under the producer's lock, right before the transaction: the owner
        uses it to drop a batch that became stale while it waited (e.g. the shard moved).
        """
        if not envs:
            return True
        async with self.lock:
            if guard is not None and not guard():
                return False
            if self._producer is None or self._failed:
                raise ProducerFailed(f"producer of {self.topic} must be restarted before sending")
            seq = self.position.seq
            records: list[tuple[bytes, Headers]] = []
            for env in envs:
                seq += 1
                env.seq, env.gen = seq, self.position.gen
                records.extend(self._encoder(env))
            try:
                await self._transaction(records)
            except ProducerFenced as exc:
                self._failed = True
                raise ShardFenced(f"{self.topic} is now produced by a newer owner of "
                                  f"{self.transactional_id}") from exc
            except Exception as exc:
                self._failed = True
                raise ProducerFailed(f"transaction on {self.topic} failed: {exc!r}") from exc
            self.position = ShardPosition.of(envs[-1])
            return True
