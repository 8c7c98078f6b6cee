"""The tail loop: each data server tailed once, its units routed to the shards it leads.

Each data server is tailed once (``pipeline.source.wal_tailer``) from the smallest tick of the
shards that follow it. Markers are grouped into write batches (``UnitAssembler``), mapped to
shards (``ShardResolver``), and routed only when that server currently leads the shard (a
DBServer's WAL also holds its follower copies). Per shard a unit is skipped when its tick is not
above the shard's position (resume without duplicates), sent when the shard is live, and held
while its snapshot is taken (``Phase.DUMPING``); units read while it waits for a snapshot slot,
and units at or below ``T0``, are dropped: the snapshot has them. A chunk's batches, gap units
and heartbeats become durable through ``pipeline.source.checkpoint``: one Kafka transaction per
shard, and only then does the tail position advance. Idle live shards get a heartbeat carrying
the server's safe position every ``heartbeat_interval_s``, which also keeps their resume point recent.

No usable leader. While the coordinator names no leader for a shard, or one it does not list (a
failover in progress), the shard's units from the server it follows are held, not dropped
(``pipeline.source.leader_gap``), and its heartbeats stay below the first of them. Named again,
the same server sends them; another one resyncs the shard, and so does the same one when more
than ``max_held_units`` piled up. A shard seen in the WAL but not listed within
``_UNKNOWN_SHARD_WAIT_S`` is an orphan until the coordinator lists it.

``frompresent=false`` (the server purged the tail's position) resyncs every shard that follows
that server and restarts its tail from the server's current tick. A retriable error restarts
the tail after a pause that grows while the server stays unreachable.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import Any

from dc2dc.agents.source.resync import Resyncs
from dc2dc.agents.source.state import ShardState, SourceState
from dc2dc.pipeline.retry import is_retriable
from dc2dc.pipeline.source.checkpoint import TailCheckpoint
from dc2dc.pipeline.source.leader_gap import LeaderGap
from dc2dc.pipeline.source.shard_phase import Phase, SyncReason
from dc2dc.pipeline.source.shard_resolver import ShardResolver
from dc2dc.pipeline.source.wal_markers import UnitAssembler, WalUnit, heartbeat_envelope, shard_envelopes
from dc2dc.pipeline.source.wal_tailer import PositionLost, WalTailer, server_last_tick
from dc2dc.topics.envelope import Envelope

log = logging.getLogger(__name__)

_HEALTHY_RUN_S = 30.0
_UNKNOWN_SHARD_WAIT_S = 5.0
_MAX_RETRY_PAUSE_S = 10.0


class Tails:
    """The tail loops of one source worker, one per data server (see module docstring)."""

    def __init__(self, state: SourceState, resyncs: Resyncs, *, poll_structure: Callable[[], Awaitable[None]],
                 poll_hint: asyncio.Event) -> None:
        self._state = state
        self._resyncs = resyncs
        self._poll_structure = poll_structure
        self._poll_hint = poll_hint
        self._resolvers: dict[str, ShardResolver] = {}
        self._dropped_logged: set[tuple[str, str]] = set()

    async def run(self, server: str) -> None:
        """Tail ``server`` until cancelled; restart after a retriable error, resync after a purge."""
        s, stats = self._state.settings, self._state.stats
        pause = s.retry_pause_s
        while True:
            started = time.monotonic()
            try:
                await self._tail(server)
            except PositionLost as lost:
                log.warning("%s; resyncing its shards", lost.message)
                stats["position_lost"] += 1
                self._resyncs.resync_followers(server, SyncReason.WAL_PURGED)
            except Exception as exc:
                if not is_retriable(exc):
                    raise
                log.warning("tailing %s failed, restarting: %r", server, exc)
                stats["tail_restarts"] += 1
                for st in self._state.shards.values():
                    if st.producer.failed:
                        await self._resyncs.restart_producer(st)
                # A server that stays unreachable (stopped, failed over) is retried ever less often.
                if time.monotonic() - started > _HEALTHY_RUN_S:
                    pause = s.retry_pause_s
                await asyncio.sleep(pause)
                pause = min(pause * 2, _MAX_RETRY_PAUSE_S)

    async def _tail(self, server: str) -> None:
        state, s = self._state, self._state.settings
        http = state.cluster.client(server)
        resolver = self._resolvers.setdefault(server, ShardResolver(http, single=state.cluster.single))
        # Start low enough for every shard that follows this server: live shards after their
        # position, syncing shards after their snapshot tick. With none, from the newest tick.
        # Read the known positions after the await: a snapshot tick may arrive meanwhile.
        fresh = await server_last_tick(http)
        known = [st.tick for st in state.shards.values() if st.live and st.server == server]
        known += [st.t0 for st in state.shards.values() if st.sync_server == server and st.t0 is not None]
        start = min(known) if known else fresh
        state.tail_floor[server] = start
        tailer = WalTailer(http, server=server, from_tick=start, src=s.src, chunk_size=s.tail_chunk_bytes,
                           idle_min=s.idle_min_s, idle_max=s.idle_max_s)
        assembler = UnitAssembler()
        state.tail_positions[server] = start
        sink = _ShardSink(state, server)
        while True:
            chunk = await tailer.fetch()
            state.tail_read[server] = tailer.next_position(chunk)
            checkpoint = TailCheckpoint()
            for unit in assembler.feed(chunk.markers):
                if unit.structure is not None:
                    resolver.learn(unit.structure)
                    self._poll_hint.set()
                    continue
                for shard, markers in (await self._by_shard(resolver, unit)).items():
                    st = await self._led_state(server, shard)
                    if st is not None:
                        self._route(st, server, unit, markers, checkpoint)
            self._close_gaps(server, checkpoint)
            self._add_heartbeats(server, assembler.safe_tick(tailer.next_position(chunk)), checkpoint)

            def advance_tail() -> None:
                tailer.commit(chunk)
                state.tail_positions[server] = tailer.position

            await checkpoint.commit(sink, advance_tail)
            await self._wait_for_syncs(server)
            await tailer.wait(chunk)

    async def _by_shard(self, resolver: ShardResolver, unit: WalUnit) -> dict[str, list[dict[str, Any]]]:
        grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for marker in unit.markers:
            shard = await resolver.resolve(marker["db"], marker["cuid"])
            if shard is None:
                # The server no longer knows the collection: it was dropped after this change
                # (the server itself stops emitting such markers, spec section 0 item 16).
                self._state.stats["markers_of_dropped_collections"] += 1
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
        state = self._state
        if shard in state.ignored or shard in state.orphans:
            return None
        if shard not in state.shards:
            # A shard in no published epoch: the structure must catch up before its data moves.
            # A coordinator may see a new collection a moment after the DBServer writes to it, so
            # "gone" needs the shard to stay absent for a while; shard ids are never reused, so a
            # shard absent after its change was logged belongs to a dropped collection.
            deadline = time.monotonic() + _UNKNOWN_SHARD_WAIT_S
            while True:
                await self._poll_structure()
                if shard in state.shards or shard in state.ignored:
                    break
                if time.monotonic() > deadline:
                    state.orphans.add(shard)
                    log.warning("shard %s of server %s is in no collection (yet?); its WAL entries are "
                                "not replicated until the coordinator lists it", shard, server)
                    return None
                await asyncio.sleep(state.settings.structure_interval_s / 4)
            if shard in state.ignored:
                return None
        st = state.shards[shard]
        leader = state.usable_leader(shard)
        if leader == server or (leader is None and server in (st.server, st.sync_server)):
            return st
        return None

    def _route(self, st: ShardState, server: str, unit: WalUnit, markers: list[dict[str, Any]],
               checkpoint: TailCheckpoint) -> None:
        shard, stats = st.info.shard, self._state.stats
        if st.live and st.server == server:
            if unit.tick <= max(st.tick, checkpoint.tick(shard)):
                stats["units_already_sent"] += 1
                return
            if st.gap is not None or self._state.usable_leader(shard) is None:
                # Once a gap is open every unit waits in it, so they go out in tick order.
                st.gap = st.gap or LeaderGap(limit=self._state.settings.max_held_units)
                st.gap.hold(unit, markers)
                return
            checkpoint.add(shard, shard_envelopes(unit, markers, self._state.context(st, server)), unit.tick,
                           st.generation)
            return
        if st.phase is Phase.FAILED and st.sync_server == server:
            stats["units_of_failed_shards"] += 1
            return  # its next resync (requested, or a new leader) covers them
        if st.sync_server != server or not st.syncing or st.sync_task is None or st.sync_task.done():
            self._resyncs.start(st, server, SyncReason.LEADER_MOVE)
        if st.phase is not Phase.DUMPING or (st.t0 is not None and unit.tick <= st.t0):
            stats["units_in_snapshot"] += 1
            return  # older than the snapshot still to be taken, or in the one taken
        if st.held and unit.tick <= st.held[-1][0].tick:
            return  # a restarted tail reads again what is held already
        st.held.append((unit, markers))

    def _close_gaps(self, server: str, checkpoint: TailCheckpoint) -> None:
        """Send what a shard held while it had no usable leader, once ``server`` is named again.

        A different leader resyncs the shard instead (the structure loop), which drops the gap.
        """
        for shard, st in self._state.shards.items():
            gap = st.gap
            if gap is None or not (st.live and st.server == server) or self._state.usable_leader(shard) != server:
                continue
            st.gap = None
            if gap.overflowed:
                self._resyncs.start(st, server, SyncReason.LEADER_UNKNOWN)
                continue
            envs = [env for unit, markers in gap.units
                    for env in shard_envelopes(unit, markers, self._state.context(st, server))]
            checkpoint.add(shard, envs, gap.units[-1][0].tick, st.generation, first=True)

    def _add_heartbeats(self, server: str, safe: int, checkpoint: TailCheckpoint) -> None:
        now = time.monotonic()
        for shard, st in self._state.shards.items():
            if not (st.live and st.server == server) or shard in checkpoint:
                continue
            if now - st.last_sent < self._state.settings.heartbeat_interval_s:
                continue
            # Sent even when the tick stands still: its ts lets a destination tell "idle and in
            # sync" from "stalled". The tick only ever moves up to the safe position, and never
            # to a unit held in a leader gap.
            tick = max(st.gap.heartbeat_tick(safe) if st.gap else safe, st.tick)
            checkpoint.add(shard, [heartbeat_envelope(self._state.context(st, server), tick)], tick, st.generation)

    async def _wait_for_syncs(self, server: str) -> None:
        # Back-pressure: a shard being synchronised holds this server's units in memory.
        state = self._state
        while not state.stopped.is_set() and any(
                st.sync_server == server and len(st.held) > state.settings.max_held_units
                for st in state.shards.values()):
            await asyncio.sleep(0.05)


class _ShardSink:
    """Where a checkpoint of ``server``'s tail sends: the shards' producers (``CheckpointSink``)."""

    def __init__(self, state: SourceState, server: str) -> None:
        self._state = state
        self._server = server

    async def send(self, shard: str, envs: list[Envelope], generation: int) -> bool:
        st = self._state.shards.get(shard)
        if st is None:
            return False

        def current() -> bool:
            return st.generation == generation and st.live and st.server == self._server

        return await st.producer.send(envs, current)

    def sent(self, shard: str, tick: int, count: int) -> None:
        st = self._state.shards[shard]
        st.tick = max(st.tick, tick)
        st.last_sent = time.monotonic()
        self._state.stats["messages"] += count
