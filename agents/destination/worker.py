"""The destination worker of one flow: lifecycle, active/standby, and the loops that must not die quietly.

One worker per flow is *active*: the one holding the control topic's single partition in its
consumer group. Further workers of the flow stand by and take over (from the stored positions)
when the active one leaves or dies. One active worker keeps the rule "no shard step while the
structure changes" inside one process (``StructureGate``); spreading shards over several active
workers would need a barrier across processes around every structure change.

The control loop, the feedback loop and (while active) the poll loop are the worker's main
tasks: if one of them, or a rebalance callback, fails, the whole worker fails (``wait`` raises).
Kafka consumer offsets are never committed: the positions in ArangoDB are the truth.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Coroutine
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from dc2dc.agents.destination.background import Background
from dc2dc.agents.destination.clients import GuardedListener, close, control_consumer, shard_consumer
from dc2dc.agents.destination.config import DestinationConfig, DestinationStats
from dc2dc.agents.destination.feedback import Feedback
from dc2dc.agents.destination.shards import ShardStreams
from dc2dc.agents.destination.structure import StructureFollower
from dc2dc.pipeline.arango.http import ArangoHttp
from dc2dc.pipeline.arango.server_version import check_server_version
from dc2dc.pipeline.destination.document_apply import DocumentWriter
from dc2dc.pipeline.destination.positions import Position, PositionStore
from dc2dc.pipeline.destination.shard_health import HealthStore
from dc2dc.pipeline.deadletter import DeadLetter
from dc2dc.pipeline.quarantine import Quarantine
from dc2dc.pipeline.retry import retrying
from dc2dc.topics.names import deadletter_topic
from dc2dc.topics.signing import Signer, Verifier

log = logging.getLogger(__name__)


class DestinationWorker:
    """Applies one flow into the destination. ``async with DestinationWorker(...)`` or start()/stop()."""

    def __init__(self, config: DestinationConfig, http: ArangoHttp, *, verifier: Verifier | None = None,
                 signer: Signer | None = None) -> None:
        self.config = config
        self.stats = DestinationStats()
        self._http = http
        self._store = PositionStore(http, config.src)
        self._dead_letter = DeadLetter(config.bootstrap, deadletter_topic(config.src, config.dst),
                                       config.topic_settings)
        self._quarantine = Quarantine(dead_letter=self._dead_letter)
        self._background = Background()
        self._feedback = Feedback(config, signer)
        self._structure = StructureFollower(http, self._store, self.stats, self._quarantine, verifier)
        self._shards = ShardStreams(config, self.stats, self._store, HealthStore(http, config.src),
                                    DocumentWriter(http), self._structure, self._feedback, self._quarantine,
                                    verifier, self._background)
        self._main: list[asyncio.Task[None]] = []    # control and feedback loops
        self._poll_task: asyncio.Task[None] | None = None   # shard records, while active
        self._failure: BaseException | None = None
        self._ended = asyncio.Event()
        self._consumer: AIOKafkaConsumer | None = None
        self._control_consumer: AIOKafkaConsumer | None = None

    # --- lifecycle -----------------------------------------------------------------------------

    async def __aenter__(self) -> DestinationWorker:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        try:
            await self._start()
        except BaseException:
            await self.stop()
            raise

    async def _start(self) -> None:
        await retrying("reading the ArangoDB version", lambda: check_server_version(self._http))
        await retrying("creating the position store", self._store.ensure)
        await self._structure.reload()
        await self._feedback.start()
        await self._dead_letter.start()
        self._control_consumer = control_consumer(
            self.config, GuardedListener(self._fail, self._deactivate_all, self._activate_all))
        await self._control_consumer.start()
        self._main = [self._spawn(self._structure.follow(self._control_consumer), "dc2dc-dst-control"),
                      self._spawn(self._feedback.report_positions(self.positions, lambda: self.stats.active),
                                  "dc2dc-dst-feedback")]

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        task = asyncio.create_task(coro, name=name)
        task.add_done_callback(self._main_done)
        return task

    def _main_done(self, task: asyncio.Task[None]) -> None:
        if task.cancelled() or task.exception() is None:
            return
        exc = task.exception()
        assert exc is not None
        self._fail(task.get_name(), exc)

    def _fail(self, where: str, exc: BaseException) -> None:
        self.stats.failed = f"{where}: {exc!r}"
        log.critical("destination worker %s->%s failed: %s", self.config.src, self.config.dst, self.stats.failed)
        if self._failure is None:
            self._failure = exc
        self._ended.set()

    async def wait(self) -> None:
        """Return when the worker ended (``stop``); raise the error of a loop that failed."""
        await self._ended.wait()
        if self._failure is not None:
            raise self._failure

    async def stop(self) -> None:
        await self._deactivate()
        tasks = self._main + self._background.cancel()
        for task in self._main:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._main = []
        if self._control_consumer is not None:
            await close(self._control_consumer)
        self._control_consumer = None
        await self._feedback.stop()
        await self._dead_letter.stop()
        # Closing is idempotent and the client reconnects on its next request, so an injected one is safe to close.
        await self._http.close()
        self._ended.set()

    # --- active / standby ------------------------------------------------------------------------

    async def _activate(self, tp: TopicPartition) -> None:
        """This worker got the control partition: read the structure from its start, apply shards."""
        assert self._control_consumer is not None
        await self._structure.restart()
        await self._control_consumer.seek_to_beginning(tp)
        self._consumer = shard_consumer(
            self.config, GuardedListener(self._fail, self._shards.revoked, self._shards.assigned))
        self._shards.attach(self._consumer)
        await self._consumer.start()
        self._poll_task = self._spawn(self._shards.poll(), "dc2dc-dst-poll")
        self.stats.active = True
        log.info("destination worker %s->%s is active", self.config.src, self.config.dst)

    async def _activate_all(self, tps: set[TopicPartition]) -> None:
        for tp in tps:
            await self._activate(tp)

    async def _deactivate_all(self, _tps: set[TopicPartition]) -> None:
        await self._deactivate()

    async def _deactivate(self) -> None:
        """Stop applying (before another worker may start): poll loop, shard tasks, shard consumer."""
        was_active, self.stats.active = self.stats.active, False
        if self._poll_task is not None:
            self._poll_task.cancel()
            await asyncio.gather(self._poll_task, return_exceptions=True)
            self._poll_task = None
        await self._shards.revoke_all()
        if self._consumer is not None:
            await close(self._consumer)
            self._consumer = None
            self._shards.attach(None)
        if was_active:
            log.info("destination worker %s->%s is standing by", self.config.src, self.config.dst)

    # --- status --------------------------------------------------------------------------------

    @property
    def structure_epoch(self) -> int:
        return self._structure.epoch

    def positions(self) -> dict[str, Position]:
        """The last stored position of every shard this worker has applied to."""
        return dict(self._shards.positions)

    def status(self) -> dict[str, Any]:
        """Applied structure epoch, counters, and the stored position of every shard."""
        positions = self._shards.positions
        return {"src": self.config.src, "dst": self.config.dst, "epoch": self._structure.epoch,
                "stats": dataclasses.asdict(self.stats), "rejected": self._quarantine.status(),
                "deadletter": self._dead_letter.status(),
                "positions": {shard: dataclasses.asdict(p) for shard, p in sorted(positions.items())}}

    async def wait_for_epoch(self, epoch: int) -> None:
        await self._structure.wait_for(epoch)
