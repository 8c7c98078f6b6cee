"""The source worker: structure epochs, one WAL tailer per data server, one producer per shard.

A plain asyncio component (``start``/``stop``/``async with``); the Faust app hosts it.

Structure. A poller reads the full structure from the coordinator (``pipeline.source.structure_read``)
every ``structure_interval_s``, and at once when a tailer sees a DDL marker or a WAL entry of
a shard that is in no published epoch yet (that tailer waits for the poll: entries are never
dropped because the structure lags). A snapshot that differs from the last one becomes the
next epoch on the control topic. Each data message carries the epoch its shard last appeared in.

Shard states. Every replicated shard has a ``ShardState`` and a fenced transactional producer
(``pipeline.source.shard_producer``). The producer's read-back decides how the shard starts:

* topic empty -> initial sync (``resync_begin/doc/end`` from a snapshot at ``T0``, then live);
* last message from the shard's current leader and no resync left open -> live, resuming
  after that message's tick;
* last message from another server (the leader moved while no one watched) -> resync;
* a resync left open (crash mid-dump) -> a new resync.

Tailing. Each data server is tailed once (``pipeline.source.wal_tailer``) from the smallest tick of
the shards that follow it. Markers are grouped into write batches (``UnitAssembler``), mapped
to shards (``ShardResolver``), and routed only when that server currently leads the shard (a
DBServer's WAL also holds its follower copies). Per shard a unit is skipped when its tick is not
above the shard's position (resume without duplicates), sent when the shard is live, and held
while the shard is being synchronised — from the moment its snapshot batch is requested; units
read earlier, and units at or below ``T0``, are dropped: the snapshot has them. At most
``max_concurrent_syncs`` snapshots run at a time. After each tail chunk every shard with
messages gets one Kafka transaction; only then does the tail position advance. Idle live shards get a heartbeat carrying the server's safe
position every ``heartbeat_interval_s``, which also keeps their resume point recent.

No usable leader. While the coordinator names no leader for a shard, or one it does not list (a
failover in progress), the shard's units from the server it follows are held, not dropped
(``pipeline.source.leader_gap``), and its heartbeats stay below the first of them. Named again,
the same server sends them; another one resyncs the shard, and so does the same one when more
than ``max_held_units`` piled up. A shard that goes live from its topic after its leader's tail
has read past the topic's end (it had no usable leader, or was not listed, meanwhile) resyncs.
A shard seen in the WAL but not listed within ``_UNKNOWN_SHARD_WAIT_S`` is an orphan until the
coordinator lists it; a shard listed for the first time starts with an initial sync anyway.

Leader moves, purged WAL, resync requests. A shard whose leader changes gets a new
*generation*: batches routed under the old one are dropped at send time (under the producer's
lock), and the shard resyncs from the new leader. ``frompresent=false`` resyncs every shard
that follows that server and restarts its tail from the server's current tick. A
``resync_request`` on a feedback topic resyncs that shard. Nothing is ever skipped.
``resync_begin.body.reason`` says why: ``initial``, ``leader_move``, ``wal_purged``, ``gap``
(requested by a destination, or a shard whose producer came back at an unexpected position),
``interrupted`` (the topic ended inside an earlier resync, e.g. after a crash mid-dump) and
``leader_unknown`` (units went unrouted while the coordinator named no usable leader).

No gap between a snapshot and the tail: a server's tail always starts at or below the snapshot
tick ``T0`` of every shard syncing from it (``_tail_floor``); a snapshot older than the running
tail's start is retaken.

Errors. Retriable errors (ArangoDB/Kafka transients, a failed Kafka transaction) restart the
affected loop after a pause; a failed producer is restarted (re-fenced, position re-read)
before it sends again. Anything else stops the component, and ``wait()`` raises it.
"""

from __future__ import annotations

import asyncio
import logging
import ssl as ssl_module
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any


from dc2dc.pipeline.arango import errno
from dc2dc.pipeline.arango.http import ArangoHttp
from dc2dc.pipeline.errors import ArangoError, Dc2dcError
from dc2dc.pipeline.retry import is_retriable
from dc2dc.pipeline.source.feedback_reader import FeedbackReader
from dc2dc.pipeline.source.leader_gap import LeaderGap
from dc2dc.pipeline.source.shard_producer import ProducerFailed, RecordEncoder, ShardProducer
from dc2dc.pipeline.source.shard_resolver import ShardResolver
from dc2dc.pipeline.source.snapshot_sync import SyncAborted, SyncProgress, SyncSettings, snapshot_shard
from dc2dc.pipeline.source.cluster import SourceCluster
from dc2dc.pipeline.source.structure_read import ShardInfo, Structure, read_structure
from dc2dc.pipeline.source.structure_publisher import StructurePublisher
from dc2dc.pipeline.source.wal_markers import ShardContext, UnitAssembler, WalUnit, heartbeat_envelope, shard_envelopes
from dc2dc.pipeline.source.wal_tailer import PositionLost, WalTailer, server_last_tick
from dc2dc.topics.admin import TopicSettings, ensure_topics
from dc2dc.topics.chunking import to_records
from dc2dc.topics.envelope import Envelope, Op
from dc2dc.topics.names import control_topic, feedback_topic, shard_topic
from dc2dc.topics.signing import Signer, Verifier

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SourceSettings:
    """Configuration of one source worker."""

    src: str
    kafka: str                                  # bootstrap servers of the source DC's Kafka
    arangodb: str                               # a coordinator (or the single server)
    username: str | None = "root"
    password: str | None = ""
    jwt_secret: str | None = None               # superuser JWT for DBServers; basic auth if None
    ssl: ssl_module.SSLContext | bool | None = None
    destinations: tuple[str, ...] = ()          # DCs whose feedback topics this worker reads
    topics: TopicSettings = TopicSettings()
    signer: Signer | None = None
    feedback_verifier: Verifier | None = None   # destinations' keys; None: feedback is not verified
    sync: SyncSettings = SyncSettings()
    structure_interval_s: float = 2.0
    heartbeat_interval_s: float = 3.0
    tail_chunk_bytes: int = 1024 * 1024
    idle_min_s: float = 0.05
    idle_max_s: float = 0.5
    max_held_units: int = 20000                 # per syncing shard, before its tailer waits
    max_concurrent_syncs: int = 4               # snapshot dumps at a time (each pins a batch on a server)
    retry_pause_s: float = 1.0


@dataclass
class ShardState:
    """What the worker knows and holds for one replicated shard."""

    info: ShardInfo
    producer: ShardProducer
    epoch: int = 0
    generation: int = 0
    live: bool = False
    server: str | None = None        # server whose ticks the live stream follows
    tick: int = 0                    # every change of the shard up to this tick is in the topic
    sync_server: str | None = None
    sync: SyncProgress | None = None
    sync_task: asyncio.Task[None] | None = None
    t0: int | None = None
    holding: bool = False            # the snapshot's batch has been requested: hold new units
    held: list[tuple[WalUnit, list[dict[str, Any]]]] = field(default_factory=list)
    gap: LeaderGap | None = None     # live, but the coordinator names no usable leader: hold units
    last_sent: float = 0.0


class SnapshotTooOld(Dc2dcError):
    """A resync's snapshot tick is older than where its server's tail started; take a new one."""

    retriable = True


_HEALTHY_RUN_S = 30.0
_UNKNOWN_SHARD_WAIT_S = 5.0
_MAX_RETRY_PAUSE_S = 10.0
_GONE = frozenset({errno.ARANGO_DATA_SOURCE_NOT_FOUND, errno.ARANGO_DATABASE_NOT_FOUND})


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
        self._http = ArangoHttp(settings.arangodb, username=settings.username, password=settings.password,
                                ssl=settings.ssl)
        self.cluster = SourceCluster(self._http, username=settings.username, password=settings.password,
                                     jwt_secret=settings.jwt_secret, ssl=settings.ssl)
        self.publisher = StructurePublisher(bootstrap=settings.kafka, src=settings.src, limits=limits,
                                            encoder=self._encoder)
        self.feedback = FeedbackReader(bootstrap=settings.kafka, src=settings.src, destinations=settings.destinations,
                                       handle=self._on_feedback, verifier=settings.feedback_verifier)
        self.shards: dict[str, ShardState] = {}
        self._leaders: dict[str, str] = {}
        self._ignored: set[str] = set()
        self._orphans: set[str] = set()
        self._dropped_logged: set[tuple[str, str]] = set()
        self._resolvers: dict[str, ShardResolver] = {}
        self._server_tasks: dict[str, asyncio.Task[None]] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._poll_lock = asyncio.Lock()
        self._sync_slots = asyncio.Semaphore(settings.max_concurrent_syncs)
        self._poll_hint = asyncio.Event()
        self._stopped = asyncio.Event()
        self._failure: BaseException | None = None
        self.tail_positions: dict[str, int] = {}
        self._tail_read: dict[str, int] = {}
        self._tail_floor: dict[str, int] = {}
        self.applied: dict[str, dict[str, Any]] = {}
        self.stats: dict[str, int] = defaultdict(int)

    # -- lifecycle ------------------------------------------------------------------------
    async def __aenter__(self) -> SourceComponent:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        s = self.settings
        try:
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
        self._stopped.set()
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
        await self._stopped.wait()
        if self._failure is not None:
            raise self._failure

    def _fail(self, exc: BaseException) -> None:
        log.error("source worker %s stops: %r", self.settings.src, exc, exc_info=exc)
        if self._failure is None:
            self._failure = exc
        self._stopped.set()
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
        """Per-shard position and sync progress, per-server tail position, applied feedback."""
        return {
            "src": self.settings.src,
            "epoch": self.publisher.epoch,
            "shards": {
                shard: {"db": st.info.db, "coll": st.info.coll, "seq": st.producer.position.seq,
                        "tick": st.tick, "server": st.server, "live": st.live,
                        "sync": st.sync.as_dict() if st.sync else None}
                for shard, st in sorted(self.shards.items())
            },
            "servers": dict(self.tail_positions),
            "applied": dict(self.applied),
            "stats": dict(self.stats),
            "rejected": self.feedback.quarantine.status(),
        }

    # -- structure ------------------------------------------------------------------------
    async def _structure_loop(self) -> None:
        while True:
            try:
                await asyncio.wait_for(self._poll_hint.wait(), self.settings.structure_interval_s)
            except asyncio.TimeoutError:
                pass
            self._poll_hint.clear()
            try:
                await self.poll_structure()
            except Exception as exc:
                if not is_retriable(exc):
                    raise
                log.warning("structure poll of %s failed, retrying: %r", self.settings.src, exc)
                await asyncio.sleep(self.settings.retry_pause_s)

    async def poll_structure(self) -> None:
        """Read the structure now; publish an epoch if it changed; follow shards and leaders."""
        async with self._poll_lock:
            structure = await read_structure(self.cluster)
            await self._add_shards(structure)
            await self.publisher.publish(structure.snapshot)
            epoch = self.publisher.epoch
            self._leaders = structure.leaders
            self._ignored = structure.ignored
            # An orphan was only not listed yet (a coordinator lagging its DBServers).
            self._orphans -= structure.shards.keys() | structure.ignored
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
                        self._guard(self._server_loop(server)), name=f"dc2dc-tail-{server}")

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
        st.generation += 1
        if st.sync_task is not None:
            st.sync_task.cancel()
        async with st.producer.lock:  # not in the middle of a transaction
            await st.producer.stop()

    def _usable_leader(self, shard: str) -> str | None:
        """The shard's leader, unless the coordinator names none or one it lists nowhere (a failover)."""
        leader = self._leaders.get(shard)
        return leader if leader is not None and self.cluster.known(leader) else None

    def _follow_leader(self, st: ShardState) -> None:
        """Start, keep or move a shard's stream according to its current leader."""
        leader = self._usable_leader(st.info.shard)
        if leader is None:
            return  # no usable leader right now (failover in progress): decide on a later poll
        if st.live and st.server == leader:
            return
        if st.sync_task is not None and not st.sync_task.done() and st.sync_server == leader:
            return
        if st.live or st.sync_server is not None:
            again = st.sync_server == leader and st.sync is not None
            self._start_sync(st, leader, st.sync.reason if again and st.sync else "leader_move")
            return
        pos = st.producer.position
        if pos.empty:
            self._start_sync(st, leader, "initial")
        elif pos.resync_open:
            self._start_sync(st, leader, "interrupted")
        elif pos.server != leader:
            self._start_sync(st, leader, "leader_move")
        elif self._tail_read.get(leader, 0) > pos.tick:
            # The leader's tail read past the topic's end while the shard had no usable leader
            # or was not listed: what it read for the shard was not routed.
            self._start_sync(st, leader, "leader_unknown")
        else:
            st.live, st.server, st.tick = True, leader, pos.tick

    # -- resync ---------------------------------------------------------------------------
    def _start_sync(self, st: ShardState, server: str, reason: str) -> None:
        if st.sync_task is not None and not st.sync_task.done():
            st.sync_task.cancel()
        st.generation += 1
        st.live, st.server, st.t0, st.held, st.holding, st.gap = False, None, None, [], False, None
        st.sync_server = server
        st.sync = SyncProgress(shard=st.info.shard, reason=reason)
        self.stats[f"resync_{reason}"] += 1
        st.sync_task = asyncio.create_task(self._guard(self._sync(st, server, reason, st.generation)),
                                           name=f"dc2dc-sync-{st.info.shard}")

    async def _sync(self, st: ShardState, server: str, reason: str, generation: int) -> None:
        def current() -> bool:
            return st.generation == generation

        def on_t0(t0: int) -> None:
            if t0 < self._tail_floor.get(server, 0):
                # The running tail of this server started after T0: it cannot deliver what
                # follows the snapshot. A new snapshot will be newer than that start.
                raise SnapshotTooOld(f"snapshot of {st.info.shard} at {t0} predates the tail of {server}")
            st.t0 = t0
            st.held = [(unit, markers) for unit, markers in st.held if unit.tick > t0]

        async def emit(envs: list[Envelope]) -> bool:
            return await st.producer.send(envs, current)

        while current():
            try:
                async with self._sync_slots:
                    # From here the snapshot's batch is requested: a unit read from now on may
                    # be newer than T0, so it is held. Earlier units are older than any T0 still
                    # to come and were dropped (waiting for a slot costs no memory).
                    st.holding = True
                    t0 = await snapshot_shard(self.cluster.client(server), st.info, src=self.settings.src,
                                              server=server, reason=reason, epoch=lambda: st.epoch, emit=emit,
                                              on_t0=on_t0, progress=st.sync or SyncProgress(st.info.shard, reason),
                                              settings=self.settings.sync)
                tick = t0
                # Units that arrived during the dump follow the snapshot; new ones may arrive while
                # we send, so drain until nothing is held, then go live without yielding.
                while st.held:
                    held, st.held = st.held, []
                    envs = [env for unit, markers in held
                            for env in shard_envelopes(unit, markers, self._context(st, server))]
                    if not await st.producer.send(envs, current):
                        return
                    tick = held[-1][0].tick
                if current():
                    st.live, st.server, st.tick, st.sync_server = True, server, tick, None
                    st.last_sent = time.monotonic()
                return
            except SyncAborted:
                return
            except Exception as exc:
                if isinstance(exc, ArangoError) and exc.error_num in _GONE:
                    # Dropped while we synced? The poll removes the shard (new generation).
                    await self.poll_structure()
                    if not current():
                        return
                elif not is_retriable(exc):
                    raise
                log.warning("resync of %s from %s failed, retrying: %r", st.info.shard, server, exc)
                self.stats["resync_retries"] += 1
                if isinstance(exc, ProducerFailed):
                    await self._restart_producer(st)
                st.holding, st.held, st.t0 = False, [], None
                await asyncio.sleep(self.settings.retry_pause_s)
                if st.sync is not None:
                    st.sync.docs = st.sync.bytes = 0
                    st.sync.state = "starting"

    async def _restart_producer(self, st: ShardState) -> None:
        """Re-fence and re-read a producer whose transaction failed; re-derive the shard's state."""
        pos = await st.producer.restart()
        if st.live and pos.server == st.server and not pos.resync_open:
            st.tick = pos.tick
        elif st.live:
            assert st.server is not None
            self._start_sync(st, st.server, "gap")

    # -- tailing --------------------------------------------------------------------------
    async def _server_loop(self, server: str) -> None:
        pause = self.settings.retry_pause_s
        while True:
            started = time.monotonic()
            try:
                await self._tail(server)
            except PositionLost as lost:
                log.warning("%s; resyncing its shards", lost.message)
                self.stats["position_lost"] += 1
                self._resync_followers(server, "wal_purged")
            except Exception as exc:
                if not is_retriable(exc):
                    raise
                log.warning("tailing %s failed, restarting: %r", server, exc)
                self.stats["tail_restarts"] += 1
                for st in self.shards.values():
                    if st.producer.failed:
                        await self._restart_producer(st)
                # A server that stays unreachable (stopped, failed over) is retried ever less often.
                if time.monotonic() - started > _HEALTHY_RUN_S:
                    pause = self.settings.retry_pause_s
                await asyncio.sleep(pause)
                pause = min(pause * 2, _MAX_RETRY_PAUSE_S)

    def _resync_followers(self, server: str, reason: str) -> None:
        for shard, st in self.shards.items():
            if (st.live and st.server == server) or st.sync_server == server:
                self._start_sync(st, self._leaders.get(shard, server), reason)

    async def _tail(self, server: str) -> None:
        s = self.settings
        http = self.cluster.client(server)
        resolver = self._resolvers.setdefault(server, ShardResolver(http, single=self.cluster.single))
        # Start low enough for every shard that follows this server: live shards after their
        # position, syncing shards after their snapshot tick. With none, from the newest tick.
        # Read the known positions after the await: a snapshot tick may arrive meanwhile.
        fresh = await server_last_tick(http)
        known = [st.tick for st in self.shards.values() if st.live and st.server == server]
        known += [st.t0 for st in self.shards.values() if st.sync_server == server and st.t0 is not None]
        start = min(known) if known else fresh
        self._tail_floor[server] = start
        tailer = WalTailer(http, server=server, from_tick=start, src=s.src, chunk_size=s.tail_chunk_bytes,
                           idle_min=s.idle_min_s, idle_max=s.idle_max_s)
        assembler = UnitAssembler()
        self.tail_positions[server] = start
        while True:
            chunk = await tailer.fetch()
            self._tail_read[server] = tailer.next_position(chunk)
            out: dict[str, list[Envelope]] = defaultdict(list)
            ticks: dict[str, int] = {}
            generations: dict[str, int] = {}
            for unit in assembler.feed(chunk.markers):
                if unit.structure is not None:
                    resolver.learn(unit.structure)
                    self._poll_hint.set()
                    continue
                for shard, markers in (await self._by_shard(resolver, unit)).items():
                    st = await self._led_state(server, shard)
                    if st is not None:
                        self._route(st, server, unit, markers, out, ticks, generations)
            self._close_gaps(server, out, ticks, generations)
            safe = assembler.safe_tick(tailer.next_position(chunk))
            self._add_heartbeats(server, safe, out, ticks, generations)
            await self._send(server, out, ticks, generations)
            tailer.commit(chunk)
            self.tail_positions[server] = tailer.position
            await self._wait_for_syncs(server)
            await tailer.wait(chunk)

    async def _by_shard(self, resolver: ShardResolver, unit: WalUnit) -> dict[str, list[dict[str, Any]]]:
        grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for marker in unit.markers:
            shard = await resolver.resolve(marker["db"], marker["cuid"])
            if shard is None:
                # The server no longer knows the collection: it was dropped after this change
                # (the server itself stops emitting such markers, spec section 0 item 16).
                self.stats["markers_of_dropped_collections"] += 1
                if (marker["db"], marker["cuid"]) not in self._dropped_logged:
                    self._dropped_logged.add((marker["db"], marker["cuid"]))
                    log.info("WAL markers of dropped collection %s/%s (from tick %s) not replicated",
                             marker["db"], marker["cuid"], marker["tick"])
                continue
            grouped[shard].append(marker)
        return grouped

    async def _led_state(self, server: str, shard: str) -> ShardState | None:
        """The state of ``shard`` if it is replicated and ``server`` leads it — or, while no usable
        leader is named, if ``server`` is the one the shard follows — else None."""
        if shard in self._ignored or shard in self._orphans:
            return None
        if shard not in self.shards:
            # A shard in no published epoch: the structure must catch up before its data moves.
            # A coordinator may see a new collection a moment after the DBServer writes to it, so
            # "gone" needs the shard to stay absent for a while; shard ids are never reused, so a
            # shard absent after its change was logged belongs to a dropped collection.
            deadline = time.monotonic() + _UNKNOWN_SHARD_WAIT_S
            while True:
                await self.poll_structure()
                if shard in self.shards or shard in self._ignored:
                    break
                if time.monotonic() > deadline:
                    self._orphans.add(shard)
                    log.warning("shard %s of server %s is in no collection (yet?); its WAL entries are "
                                "not replicated until the coordinator lists it", shard, server)
                    return None
                await asyncio.sleep(self.settings.structure_interval_s / 4)
            if shard in self._ignored:
                return None
        st = self.shards[shard]
        leader = self._usable_leader(shard)
        if leader == server or (leader is None and server in (st.server, st.sync_server)):
            return st
        return None

    def _context(self, st: ShardState, server: str) -> ShardContext:
        i = st.info
        return ShardContext(src=self.settings.src, db=i.db, coll=i.coll, shard=i.shard, cid=i.cid,
                            server=server, epoch=st.epoch)

    def _route(self, st: ShardState, server: str, unit: WalUnit, markers: list[dict[str, Any]],
               out: dict[str, list[Envelope]], ticks: dict[str, int], generations: dict[str, int]) -> None:
        shard = st.info.shard
        if st.live and st.server == server:
            if unit.tick <= max(st.tick, ticks.get(shard, 0)):
                self.stats["units_already_sent"] += 1
                return
            if st.gap is not None or self._usable_leader(shard) is None:
                # Once a gap is open every unit waits in it, so they go out in tick order.
                st.gap = st.gap or LeaderGap(limit=self.settings.max_held_units)
                st.gap.hold(unit, markers)
                return
            out[shard].extend(shard_envelopes(unit, markers, self._context(st, server)))
            ticks[shard] = unit.tick
            generations.setdefault(shard, st.generation)
            return
        if st.sync_server != server or st.sync_task is None or st.sync_task.done():
            self._start_sync(st, server, "leader_move")
        if not st.holding or (st.t0 is not None and unit.tick <= st.t0):
            self.stats["units_in_snapshot"] += 1
            return  # older than the snapshot still to be taken, or in the one taken
        if st.held and unit.tick <= st.held[-1][0].tick:
            return  # a restarted tail reads again what is held already
        st.held.append((unit, markers))

    def _close_gaps(self, server: str, out: dict[str, list[Envelope]], ticks: dict[str, int],
                    generations: dict[str, int]) -> None:
        """Send what a shard held while it had no usable leader, once ``server`` is named again.

        A different leader resyncs the shard instead (``_follow_leader``), which drops the gap.
        """
        for shard, st in self.shards.items():
            gap = st.gap
            if gap is None or not (st.live and st.server == server) or self._usable_leader(shard) != server:
                continue
            st.gap = None
            if gap.overflowed:
                self._start_sync(st, server, "leader_unknown")
                continue
            out[shard][:0] = [env for unit, markers in gap.units
                              for env in shard_envelopes(unit, markers, self._context(st, server))]
            ticks[shard] = max(ticks.get(shard, 0), gap.units[-1][0].tick)
            generations.setdefault(shard, st.generation)

    def _add_heartbeats(self, server: str, safe: int, out: dict[str, list[Envelope]],
                        ticks: dict[str, int], generations: dict[str, int]) -> None:
        now = time.monotonic()
        for shard, st in self.shards.items():
            if not (st.live and st.server == server) or shard in out:
                continue
            if now - st.last_sent < self.settings.heartbeat_interval_s:
                continue
            # Sent even when the tick stands still: its ts lets a destination tell "idle and in
            # sync" from "stalled". The tick only ever moves up to the safe position, and never
            # to a unit held in a leader gap.
            tick = max(st.gap.heartbeat_tick(safe) if st.gap else safe, st.tick)
            out[shard].append(heartbeat_envelope(self._context(st, server), tick))
            ticks[shard] = tick
            generations[shard] = st.generation

    async def _send(self, server: str, out: dict[str, list[Envelope]], ticks: dict[str, int],
                    generations: dict[str, int]) -> None:
        async def one(shard: str) -> None:
            st = self.shards.get(shard)
            if st is None:
                return
            generation = generations[shard]

            def current() -> bool:
                return st.generation == generation and st.live and st.server == server

            if await st.producer.send(out[shard], current):
                st.tick = max(st.tick, ticks[shard])
                st.last_sent = time.monotonic()
                self.stats["messages"] += len(out[shard])

        results = await asyncio.gather(*(one(shard) for shard in out), return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                raise result

    async def _wait_for_syncs(self, server: str) -> None:
        # Back-pressure: a shard being synchronised holds this server's units in memory.
        while not self._stopped.is_set() and any(
                st.sync_server == server and len(st.held) > self.settings.max_held_units
                for st in self.shards.values()):
            await asyncio.sleep(0.05)

    # -- feedback -------------------------------------------------------------------------
    def _on_feedback(self, env: Envelope) -> None:
        body = env.body or {}
        if env.op == Op.APPLIED:
            self.applied[str(body.get("dst"))] = body.get("positions", {})
        elif env.op == Op.RESYNC_REQUEST:
            shard = str(body.get("shard"))
            st = self.shards.get(shard)
            leader = self._leaders.get(shard)
            if st is None or leader is None:
                log.warning("resync request for unknown shard %s from %s ignored", shard, body.get("dst"))
                return
            log.info("resync of %s requested by %s: %s", shard, body.get("dst"), body.get("reason"))
            self._start_sync(st, leader, "gap")
