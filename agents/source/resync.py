"""Resync orchestration: one task per (re)syncing shard, a snapshot slot each, and a retry budget.

A resync takes one of ``max_concurrent_syncs`` slots, dumps the shard from its leader
(``pipeline.source.snapshot_sync``), sends the units held during the dump and goes live without
yielding. An attempt that fails with a retriable error is retried under ``resync_retry``
(``pipeline.retry``); once the budget is spent the shard is FAILED, with the error, in the
worker's status, and the other shards keep going. Anything else stops the worker.

No gap between a snapshot and the tail: a server's tail always starts at or below the snapshot
tick ``T0`` of every shard syncing from it (``tail_floor``); a snapshot older than the running
tail's start is retaken.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from dc2dc.agents.source.state import ShardState, SourceState
from dc2dc.pipeline.arango import errno
from dc2dc.pipeline.errors import ArangoError, Dc2dcError
from dc2dc.pipeline.retry import RetryBudgetSpent, is_retriable
from dc2dc.pipeline.source.shard_phase import SyncReason
from dc2dc.pipeline.source.shard_producer import ProducerFailed
from dc2dc.pipeline.source.snapshot_sync import SyncAborted, SyncProgress, snapshot_shard
from dc2dc.pipeline.source.wal_markers import shard_envelopes
from dc2dc.topics.envelope import Envelope

log = logging.getLogger(__name__)

Guard = Callable[[Coroutine[Any, Any, None]], Coroutine[Any, Any, None]]
_GONE = frozenset({errno.ARANGO_DATA_SOURCE_NOT_FOUND, errno.ARANGO_DATABASE_NOT_FOUND})


class SnapshotTooOld(Dc2dcError):
    """A resync's snapshot tick is older than where its server's tail started; take a new one."""

    retriable = True


class StillListed(Dc2dcError):
    """The server reported the shard's collection gone, yet the structure still lists it: try again."""

    retriable = True


class Resyncs:
    """Starts, runs and retries the resyncs of one source worker's shards (see module docstring)."""

    def __init__(self, state: SourceState, *, guard: Guard, poll_structure: Callable[[], Awaitable[None]]) -> None:
        self._state = state
        self._guard = guard
        self._poll_structure = poll_structure
        self._slots = asyncio.Semaphore(state.settings.max_concurrent_syncs)

    def start(self, st: ShardState, server: str, reason: SyncReason) -> None:
        """Resync ``st`` from ``server``, replacing whatever resync it had."""
        if st.sync_task is not None and not st.sync_task.done():
            st.sync_task.cancel()
        st.begin_sync(server, reason)
        self._state.stats[f"resync_{reason}"] += 1
        st.sync_task = asyncio.create_task(self._guard(self._run(st, server, reason, st.generation)),
                                           name=f"dc2dc-sync-{st.info.shard}")

    def resync_followers(self, server: str, reason: SyncReason) -> None:
        """Resync every shard whose stream or resync reads from ``server``."""
        for shard, st in self._state.shards.items():
            if (st.live and st.server == server) or (st.syncing and st.sync_server == server):
                self.start(st, self._state.leaders.get(shard, server), reason)

    async def restart_producer(self, st: ShardState) -> None:
        """Re-fence and re-read a producer whose transaction failed; re-derive the shard's state."""
        pos = await st.producer.restart()
        if st.live and pos.server == st.server and not pos.resync_open:
            st.tick = pos.tick
        elif st.live:
            assert st.server is not None
            self.start(st, st.server, SyncReason.GAP)

    async def _run(self, st: ShardState, server: str, reason: SyncReason, generation: int) -> None:
        def current() -> bool:
            return st.generation == generation

        async def attempt() -> None:
            if not current():
                return
            try:
                await self._attempt(st, server, reason, current)
            except SyncAborted:
                return
            except Exception as exc:
                if current():
                    st.retry_sync()  # first: whatever fails below, the next attempt starts from WAITING
                gone = isinstance(exc, ArangoError) and exc.error_num in _GONE
                if gone:
                    # Dropped while we synced? The poll removes the shard (new generation).
                    await self._poll_structure()
                elif not is_retriable(exc):
                    raise
                if not current():
                    return
                # The policy logs the retry and decides when retrying has gone on too long.
                self._state.stats["resync_retries"] += 1
                if isinstance(exc, ProducerFailed):
                    await self.restart_producer(st)
                if gone:
                    raise StillListed(f"{st.info.shard} was reported gone but is still listed: {exc}") from exc
                raise

        try:
            await self._state.settings.resync_retry.run(f"resync of {st.info.shard} from {server}", attempt)
        except RetryBudgetSpent as spent:
            if current():
                log.error("shard %s failed: %s", st.info.shard, spent)
                self._state.stats["resync_failed"] += 1
                st.fail(spent)

    async def _attempt(self, st: ShardState, server: str, reason: SyncReason, current: Callable[[], bool]) -> None:
        """One snapshot of the shard, then what was held during it; live at the end if still current."""
        floor = self._state.tail_floor

        def on_t0(t0: int) -> None:
            if t0 < floor.get(server, 0):
                # The running tail of this server started after T0: it cannot deliver what
                # follows the snapshot. A new snapshot will be newer than that start.
                raise SnapshotTooOld(f"snapshot of {st.info.shard} at {t0} predates the tail of {server}")
            st.t0 = t0
            st.held = [(unit, markers) for unit, markers in st.held if unit.tick > t0]

        async def emit(envs: list[Envelope]) -> bool:
            return await st.producer.send(envs, current)

        async with self._slots:
            # From here the snapshot's batch is requested: a unit read from now on may be newer
            # than T0, so it is held. Earlier units are older than any T0 still to come and were
            # dropped (waiting for a slot costs no memory).
            st.dumping()
            tick = await snapshot_shard(self._state.cluster.client(server), st.info, src=self._state.settings.src,
                                        server=server, reason=reason, epoch=lambda: st.epoch, emit=emit,
                                        on_t0=on_t0, progress=st.sync or SyncProgress(st.info.shard, reason),
                                        settings=self._state.settings.sync)
        # Units that arrived during the dump follow the snapshot; new ones may arrive while we
        # send, so drain until nothing is held, then go live without yielding.
        while st.held:
            held, st.held = st.held, []
            context = self._state.context(st, server)
            envs = [env for unit, markers in held for env in shard_envelopes(unit, markers, context)]
            if not await st.producer.send(envs, current):
                return
            tick = held[-1][0].tick
        if current():
            st.go_live(server, tick)
            st.last_sent = time.monotonic()
