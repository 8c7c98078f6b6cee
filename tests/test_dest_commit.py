"""The destination's commit step (``agents.destination.commit.CommitStep``): drain → apply → store position.

The applier, position store and applied structure are small in-memory stand-ins that write one
journal, so the order of apply and store is visible; the real ones are exercised against the
stand-in cluster in tests/test_dest_worker.py and tests/test_dest_apply.py.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest

from dc2dc.agents.destination.commit import CommitStep
from dc2dc.agents.destination.config import DestinationStats
from dc2dc.pipeline.destination.apply_batch import Received, Step
from dc2dc.pipeline.destination.document_apply import Target
from dc2dc.pipeline.destination.positions import Position
from dc2dc.pipeline.errors import ConfigError
from dc2dc.topics.envelope import Envelope, Op

TARGET = Target(db="d", coll="c", shard="s9")


class Structure:
    def __init__(self, epoch: int = 1, target: Target | None = TARGET) -> None:
        self.epoch, self._target = epoch, target
        self._changed = asyncio.Event()

    @contextlib.asynccontextmanager
    async def shared(self) -> AsyncIterator[None]:
        yield

    async def target(self, shard: str) -> Target | None:
        return self._target

    async def wait_beyond(self, epoch: int) -> None:
        while self.epoch <= epoch:
            await self._changed.wait()
            self._changed.clear()

    def advance(self, epoch: int) -> None:
        self.epoch = epoch
        self._changed.set()


class Applier:
    resync_from: int | None = None
    resync_offset: int | None = None

    def __init__(self, journal: list[tuple[str, list[int] | int]], fail_at: int | None = None) -> None:
        self._journal, self.fail_at = journal, fail_at

    async def apply(self, step: Step, target: Target) -> None:
        seqs = list(range(step.first_seq, step.last.env.seq + 1))
        if self.fail_at in seqs:
            raise ConfigError(f"seq {self.fail_at} cannot be applied (injected)")
        self._journal.append(("apply", seqs))


class Store:
    def __init__(self, journal: list[tuple[str, list[int] | int]]) -> None:
        self._journal = journal

    async def save(self, positions: list[Position]) -> None:
        for pos in positions:
            self._journal.append(("store", pos.seq))


def ins(seq: int, epoch: int = 1) -> Received:
    return Received(Envelope(op=Op.INSERT, src="A", seq=seq, epoch=epoch, shard="s1", key=f"k{seq}",
                             doc={"_key": f"k{seq}"}), offset=100 + seq)


def txn(op: Op, seq: int) -> Received:
    return Received(Envelope(op=op, src="A", seq=seq, epoch=1, shard="s1", tid="77"), offset=100 + seq)


def in_txn(seq: int) -> Received:
    rec = ins(seq)
    rec.env.tid = "77"
    return rec


class Harness:
    def __init__(self, structure: Structure | None = None, fail_at: int | None = None) -> None:
        self.journal: list[tuple[str, list[int] | int]] = []
        self.stored: list[Position] = []
        self.stats = DestinationStats()
        self.structure = structure or Structure()
        self.applier = Applier(self.journal, fail_at)
        self.commit = CommitStep("A", "s1", self.applier, Store(self.journal), self.structure, self.stats,
                                 max_ops=2, max_bytes=1 << 20, stored=self.stored.append)


async def test_a_drain_applies_every_step_before_it_stores_the_position_of_the_last() -> None:
    h = Harness()
    assert await h.commit.drain([ins(1), ins(2), ins(3)]) is True   # progress: drain again
    assert h.journal == [("apply", [1, 2]), ("apply", [3]), ("store", 3)]
    (pos,) = h.stored
    assert (pos.src, pos.shard, pos.seq, pos.offset, pos.epoch) == ("A", "s1", 3, 103, 1)
    assert h.stats.applied == 3
    assert await h.commit.drain([]) is False   # only more records can make progress
    assert len(h.journal) == 3


async def test_an_apply_failure_leaves_the_stored_position_where_it_was() -> None:
    h = Harness(fail_at=6)
    await h.commit.drain([ins(1), ins(2), ins(3)])
    with pytest.raises(ConfigError, match="injected"):
        await h.commit.drain([ins(4), ins(5), ins(6)])
    assert h.journal[-1] == ("apply", [4, 5])   # applied, but its position is stored only with the rest
    assert [e for e in h.journal if e[0] == "store"] == [("store", 3)]
    assert [p.seq for p in h.stored] == [3]


async def test_records_applied_by_one_drain_are_not_applied_again_by_the_next() -> None:
    h = Harness()
    await h.commit.drain([ins(1), ins(2)])
    await h.commit.drain([ins(3)])
    assert h.journal == [("apply", [1, 2]), ("store", 2), ("apply", [3]), ("store", 3)]


async def test_an_open_transaction_is_held_until_its_commit_arrives_then_applied_as_one_step() -> None:
    h = Harness()
    assert await h.commit.drain([txn(Op.TXN_BEGIN, 1), in_txn(2)]) is False
    assert h.journal == [] and [r.env.seq for r in h.commit.held] == [1, 2]
    await h.commit.drain([in_txn(3), txn(Op.TXN_COMMIT, 4)])
    assert h.journal == [("apply", [1, 2, 3, 4]), ("store", 4)]
    assert h.commit.held == []


async def test_records_of_an_unapplied_structure_epoch_wait_for_it() -> None:
    h = Harness(Structure(epoch=1))
    assert await h.commit.drain([ins(1), ins(2, epoch=2)]) is True
    assert h.journal == [("apply", [1]), ("store", 1)]
    assert [r.env.seq for r in h.commit.held] == [2]
    drain = asyncio.create_task(h.commit.drain([]))
    await asyncio.sleep(0.05)
    assert not drain.done() and len(h.journal) == 2
    h.structure.advance(2)
    assert await asyncio.wait_for(drain, 5) is True   # more can be applied now
    await h.commit.drain([])
    assert h.journal[2:] == [("apply", [2]), ("store", 2)]


async def test_nothing_is_applied_or_discarded_before_any_structure_is_applied() -> None:
    h = Harness(Structure(epoch=0))
    drain = asyncio.create_task(h.commit.drain([ins(1)]))
    await asyncio.sleep(0.05)
    assert not drain.done() and h.journal == [] and h.stats.discarded == 0
    drain.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await drain


async def test_records_of_a_dropped_collection_are_discarded_and_their_position_stored() -> None:
    h = Harness(Structure(epoch=3, target=None))
    await h.commit.drain([ins(1), ins(2)])
    assert h.journal == [("store", 2)]
    assert (h.stats.discarded, h.stats.applied) == (2, 0)
