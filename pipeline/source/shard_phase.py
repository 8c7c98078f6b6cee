"""The phases of one replicated shard on the source, the only moves between them, and why a shard resyncs.

A shard is in exactly one phase; every change of phase goes through :func:`moved`, which refuses
a move the table does not list: a bug in the orchestration then stops the worker loudly instead
of, say, sending a live change into a shard whose resync has not ended.

* ``NEW`` — its producer has read the topic back; how it starts waits for a usable leader.
* ``WAITING`` — a resync is due and waits for a snapshot slot. Units read now are older than any
  snapshot still to come, so they are dropped (waiting costs no memory).
* ``DUMPING`` — the snapshot's batch is requested: units read from now on may be newer than its
  ``T0`` and are held, to follow the snapshot into the topic.
* ``LIVE`` — changes go out as the tail reads them.
* ``FAILED`` — a resync spent its retry budget; the shard stays here, visible, until a resync is
  asked for again (a destination's request, a new leader).
* ``REMOVED`` — its collection is gone; nothing follows.
"""

from __future__ import annotations

from enum import StrEnum

from dc2dc.topics.errors import Dc2dcError


class Phase(StrEnum):
    NEW = "new"
    WAITING = "waiting"
    DUMPING = "dumping"
    LIVE = "live"
    FAILED = "failed"
    REMOVED = "removed"


class SyncReason(StrEnum):
    """Why a shard (re)syncs: ``resync_begin.body.reason`` on the wire, and in ``/status``."""

    INITIAL = "initial"                 # the topic is empty
    LEADER_MOVE = "leader_move"         # another server leads the shard than the one its stream follows
    WAL_PURGED = "wal_purged"           # the server's WAL no longer holds the tail's position
    GAP = "gap"                         # a destination asked, or the producer came back somewhere unexpected
    INTERRUPTED = "interrupted"         # the topic ends inside an earlier resync (a crash mid-dump)
    LEADER_UNKNOWN = "leader_unknown"   # units went unrouted while no usable leader was named


TRANSITIONS: dict[Phase, frozenset[Phase]] = {
    Phase.NEW: frozenset({Phase.WAITING, Phase.LIVE, Phase.REMOVED}),
    # WAITING -> WAITING: a resync is restarted (another leader, another reason) before it dumped.
    Phase.WAITING: frozenset({Phase.WAITING, Phase.DUMPING, Phase.FAILED, Phase.REMOVED}),
    # DUMPING -> WAITING: the attempt failed and is retried, or a new resync replaces it.
    Phase.DUMPING: frozenset({Phase.WAITING, Phase.LIVE, Phase.REMOVED}),
    Phase.LIVE: frozenset({Phase.WAITING, Phase.REMOVED}),
    Phase.FAILED: frozenset({Phase.WAITING, Phase.REMOVED}),
    Phase.REMOVED: frozenset(),
}


class IllegalTransition(Dc2dcError):
    """A shard was asked to move between two phases that the table does not connect (a bug)."""


def moved(current: Phase, new: Phase, *, shard: str = "") -> Phase:
    """``new`` if a shard in ``current`` may move there; else :class:`IllegalTransition`."""
    if new not in TRANSITIONS[current]:
        raise IllegalTransition(f"shard {shard}: no move from {current} to {new}")
    return new
