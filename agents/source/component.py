"""The source worker: lifecycle, the structure loop, and how each shard starts and follows its leader.

A plain asyncio component (``start``/``stop``/``async with``); the Faust app hosts it. Its parts:
``tail`` (one WAL tail per data server, routing, the per-chunk checkpoint), ``resync`` (snapshot
dumps under a retry budget), ``state`` (each shard's phase, ``pipeline.source.shard_phase``).

Structure. A poller reads the full structure from the coordinator (``pipeline.source.structure_read``)
every ``structure_interval_s``, and at once when a tailer sees a DDL marker or a WAL entry of a
shard that is in no published epoch yet (that tailer waits for the poll: entries are never
dropped because the structure lags). A snapshot that differs from the last one becomes the next
epoch on the control topic. Each data message carries the epoch its shard last appeared in.

Shard start. Every replicated shard has a fenced transactional producer
(``pipeline.source.shard_producer``), whose read-back decides how the shard starts once a usable
leader is named:

* topic empty -> initial sync (``resync_begin/doc/end`` from a snapshot at ``T0``, then live);
* last message from the shard's current leader and no resync left open -> live, resuming
  after that message's tick;
* last message from another server (the leader moved while no one watched) -> resync;
* a resync left open (crash mid-dump) -> a new resync;
* the leader's tail read past the topic's end while the shard had no usable leader or was not
  listed -> resync (``leader_unknown``): what the tail read for it was not routed.

A shard whose leader changes resyncs from the new leader (``leader_move``); a ``resync_request``
on a feedback topic resyncs that shard (``gap``), a FAILED one too. Nothing is ever skipped.

Errors. Retriable errors restart the affected loop (the structure poll under ``structure_retry``);
a spent budget fails the shard (a resync) or the worker (the structure poll, which every shard
needs). Anything else stops the component, and ``wait()`` raises it.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from dc2dc.agents.source.resync import Resyncs
from dc2dc.agents.source.settings import SourceSettings
from dc2dc.agents.source.state import ShardState, SourceState
from dc2dc.agents.source.tail import Tails
from dc2dc.pipeline.applied import AppliedPosition, applied_from_wire
from dc2dc.pipeline.arango.server_version import check_server_version
from dc2dc.pipeline.source.cluster import SourceCluster
from dc2dc.pipeline.source.feedback_reader import FeedbackReader
from dc2dc.pipeline.source.shard_phase import Phase, SyncReason
from dc2dc.pipeline.source.shard_producer import RecordEncoder, ShardProducer
from dc2dc.pipeline.source.structure_publisher import StructurePublisher
from dc2dc.pipeline.source.structure_read import Structure, read_structure
from dc2dc.topics.admin import ensure_topics
from dc2dc.topics.chunking import to_records
from dc2dc.topics.envelope import Envelope, Op
from dc2dc.topics.names import control_topic, feedback_topic, shard_topic

log = logging.getLogger(__name__)


class SourceComponent:
    """One source DC's worker (see module docstring)."""

    def __init__(self, settings: SourceSettings) -> None:
        self.settings = settings
        limits = settings.topics.chunk_limits()
        signer = settings.signer
        if signer is None:
            self._encoder: RecordEncoder = lambda env: to_records(env, limits)
        else:
            self._encoder = lambda env: [(v, signer.sign(v, h)) for v, h in to_records(env, limits)]
        self._limits = limits
        self._http = settings.arangodb.connect()
        self.cluster = SourceCluster(self._http, settings.arangodb)
        self.publisher = StructurePublisher(bootstrap=settings.kafka, src=settings.src, limits=limits,
                                            encoder=self._encoder)
        self.feedback = FeedbackReader(bootstrap=settings.kafka, src=settings.src, destinations=settings.destinations,
                                       handle=self._on_feedback, verifier=settings.feedback_verifier,
                                       topic_settings=settings.topics)
        self.state = SourceState(settings, self.cluster)
        self.shards = self.state.shards
        self.stats = self.state.stats
        self.tail_positions = self.state.tail_positions
        self.applied: dict[str, dict[str, AppliedPosition]] = {}   # destination -> shard -> position
        self._poll_lock = asyncio.Lock()
        self._poll_hint = asyncio.Event()
        self._resyncs = Resyncs(self.state, guard=self._guard, poll_structure=self.poll_structure)
        self._tails = Tails(self.state, self._resyncs, poll_structure=self.poll_structure, poll_hint=self._poll_hint)
        self._server_tasks: dict[str, asyncio.Task[None]] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._failure: BaseException | None = None

    # -- lifecycle ------------------------------------------------------------------------
    async def __aenter__(self) -> SourceComponent:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        s = self.settings
        try:
            # A release whose WAL and replication interfaces dc2dc does not know stops it here.
            await check_server_version(self._http)
            await self.cluster.detect()
            extra_topics = [feedback_topic(s.src, dst) for dst in s.destinations]
            await ensure_topics(s.kafka, [control_topic(s.src), *extra_topics], s.topics)
            await self.publisher.start()
            await self.poll_structure()
        except BaseException:
            await self.stop()
            raise
        self._tasks.append(asyncio.create_task(self._guard(self._structure_loop()), name="dc2dc-structure"))
        if s.destinations:
            self._tasks.append(asyncio.create_task(self._guard(self.feedback.run()), name="dc2dc-feedback"))

    def _all_tasks(self) -> list[asyncio.Task[None]]:
        return [*self._tasks, *self._server_tasks.values(),
                *(st.sync_task for st in self.shards.values() if st.sync_task is not None)]

    async def stop(self) -> None:
        self.state.stopped.set()
        tasks = self._all_tasks()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.clear()
        self._server_tasks.clear()
        await asyncio.gather(*(st.producer.stop() for st in self.shards.values()), return_exceptions=True)
        await self.publisher.stop()
        await self.cluster.close()
        await self._http.close()

    async def wait(self) -> None:
        """Return when the component stops; raise the error that stopped it, if any."""
        await self.state.stopped.wait()
        if self._failure is not None:
            raise self._failure

    def _fail(self, exc: BaseException) -> None:
        log.error("source worker %s stops: %r", self.settings.src, exc, exc_info=exc)
        if self._failure is None:
            self._failure = exc
        self.state.stopped.set()
        # Nothing may go on after a fatal error (a fenced zombie above all); stop() cleans up.
        current = asyncio.current_task()
        for task in self._all_tasks():
            if task is not current:
                task.cancel()

    async def _guard(self, coro: Any) -> None:
        try:
            await coro
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # noqa: BLE001 - anything unexpected must stop the worker loudly
            self._fail(exc)

    def status(self) -> dict[str, Any]:
        """Per-shard phase, position and sync progress, per-server tail position, applied feedback."""
        return {
            "src": self.settings.src,
            "epoch": self.publisher.epoch,
            "shards": {shard: st.status() for shard, st in sorted(self.shards.items())},
            "servers": dict(self.tail_positions),
            "applied": {dst: {s: p.to_wire() for s, p in shards.items()} for dst, shards in self.applied.items()},
            "stats": dict(self.stats),
            "rejected": self.feedback.quarantine.status(),
            "deadletter": self.feedback.dead_letter.status(),
        }

    # -- structure ------------------------------------------------------------------------
    async def _structure_loop(self) -> None:
        while True:
            try:
                await asyncio.wait_for(self._poll_hint.wait(), self.settings.structure_interval_s)
            except asyncio.TimeoutError:
                pass
            self._poll_hint.clear()
            await self.settings.structure_retry.run(f"structure poll of {self.settings.src}", self.poll_structure)

    async def poll_structure(self) -> None:
        """Read the structure now; publish an epoch if it changed; follow shards and leaders."""
        state = self.state
        async with self._poll_lock:
            structure = await read_structure(self.cluster)
            await self._add_shards(structure)
            await self.publisher.publish(structure.snapshot)
            epoch = self.publisher.epoch
            state.leaders = structure.leaders
            state.ignored = structure.ignored
            # An orphan was only not listed yet (a coordinator lagging its DBServers).
            state.orphans -= structure.shards.keys() | structure.ignored
            for shard, st in list(self.shards.items()):
                if shard not in structure.shards:
                    await self._remove_shard(shard)
                    continue
                st.info = structure.shards[shard]
                st.epoch = epoch
                self._follow_leader(st)
            for server in await self.cluster.data_servers():
                if server not in self._server_tasks:
                    self._server_tasks[server] = asyncio.create_task(
                        self._guard(self._tails.run(server)), name=f"dc2dc-tail-{server}")

    async def _add_shards(self, structure: Structure) -> None:
        new = [info for shard, info in structure.shards.items() if shard not in self.shards]
        if not new:
            return
        await ensure_topics(self.settings.kafka, [shard_topic(self.settings.src, i.shard) for i in new],
                            self.settings.topics)
        states = [ShardState(info=i, producer=ShardProducer(bootstrap=self.settings.kafka, src=self.settings.src,
                                                            shard=i.shard, limits=self._limits, encoder=self._encoder))
                  for i in new]
        await asyncio.gather(*(st.producer.start() for st in states))
        for st in states:
            self.shards[st.info.shard] = st

    async def _remove_shard(self, shard: str) -> None:
        st = self.shards.pop(shard)
        st.remove()
        if st.sync_task is not None:
            st.sync_task.cancel()
        async with st.producer.lock:  # not in the middle of a transaction
            await st.producer.stop()

    def _follow_leader(self, st: ShardState) -> None:
        """Start, keep or move a shard's stream according to its current leader."""
        leader = self.state.usable_leader(st.info.shard)
        if leader is None:
            return  # no usable leader right now (failover in progress): decide on a later poll
        if st.live and st.server == leader:
            return
        if st.sync_server == leader and (st.phase is Phase.FAILED or (
                st.syncing and st.sync_task is not None and not st.sync_task.done())):
            return  # syncing from it already, or failed there: only a request starts it again
        if st.phase is not Phase.NEW:
            again = st.sync_server == leader and st.sync is not None
            self._resyncs.start(st, leader, st.sync.reason if again and st.sync else SyncReason.LEADER_MOVE)
            return
        pos = st.producer.position
        if pos.empty:
            self._resyncs.start(st, leader, SyncReason.INITIAL)
        elif pos.resync_open:
            self._resyncs.start(st, leader, SyncReason.INTERRUPTED)
        elif pos.server != leader:
            self._resyncs.start(st, leader, SyncReason.LEADER_MOVE)
        elif self.state.tail_read.get(leader, 0) > pos.tick:
            # The leader's tail read past the topic's end while the shard had no usable leader
            # or was not listed: what it read for it was not routed.
            self._resyncs.start(st, leader, SyncReason.LEADER_UNKNOWN)
        else:
            st.go_live(leader, pos.tick)

    # -- feedback -------------------------------------------------------------------------
    def _on_feedback(self, env: Envelope) -> None:
        body = env.body or {}
        if env.op == Op.APPLIED:
            self.applied[str(body.get("dst"))] = applied_from_wire(body.get("positions") or {})
        elif env.op == Op.RESYNC_REQUEST:
            shard = str(body.get("shard"))
            st = self.shards.get(shard)
            leader = self.state.leaders.get(shard)
            if st is None or leader is None:
                log.warning("resync request for unknown shard %s from %s ignored", shard, body.get("dst"))
                return
            log.info("resync of %s requested by %s: %s", shard, body.get("dst"), body.get("reason"))
            self._resyncs.start(st, leader, SyncReason.GAP)
