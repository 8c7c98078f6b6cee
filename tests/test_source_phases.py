"""The shard state machine and the tail checkpoint of the source side: pure rules, no I/O."""

from __future__ import annotations

import asyncio

import pytest

from dc2dc.pipeline.source.checkpoint import TailCheckpoint
from dc2dc.pipeline.source.shard_phase import TRANSITIONS, IllegalTransition, Phase, SyncReason, moved
from dc2dc.topics.envelope import Envelope, Op
from dc2dc.topics.names import control_transactional_id, feedback_group, shard_transactional_id

LEGAL = [
    (Phase.NEW, Phase.WAITING), (Phase.NEW, Phase.LIVE), (Phase.NEW, Phase.REMOVED),
    (Phase.WAITING, Phase.WAITING), (Phase.WAITING, Phase.DUMPING), (Phase.WAITING, Phase.FAILED),
    (Phase.WAITING, Phase.REMOVED),
    (Phase.DUMPING, Phase.WAITING), (Phase.DUMPING, Phase.LIVE), (Phase.DUMPING, Phase.REMOVED),
    (Phase.LIVE, Phase.WAITING), (Phase.LIVE, Phase.REMOVED),
    (Phase.FAILED, Phase.WAITING), (Phase.FAILED, Phase.REMOVED),
]


@pytest.mark.parametrize(("current", "new"), LEGAL)
def test_every_legal_move_is_allowed(current: Phase, new: Phase) -> None:
    assert moved(current, new) is new


@pytest.mark.parametrize(("current", "new"), [(c, n) for c in Phase for n in Phase if (c, n) not in LEGAL])
def test_every_other_move_raises(current: Phase, new: Phase) -> None:
    with pytest.raises(IllegalTransition) as raised:
        moved(current, new, shard="s7")
    assert "s7" in str(raised.value) and not raised.value.retriable, "a bug stops the worker, it is not retried"


def test_the_table_is_exactly_the_legal_moves() -> None:
    assert {(c, n) for c, targets in TRANSITIONS.items() for n in targets} == set(LEGAL)


def test_a_live_shard_only_goes_live_again_through_a_resync_and_a_removed_one_never_comes_back() -> None:
    assert Phase.LIVE not in TRANSITIONS[Phase.WAITING], "a live stream needs its snapshot dumped first"
    assert Phase.LIVE not in TRANSITIONS[Phase.FAILED]
    assert not TRANSITIONS[Phase.REMOVED]


def test_sync_reasons_keep_their_wire_strings() -> None:
    assert [r.value for r in SyncReason] == ["initial", "leader_move", "wal_purged", "gap", "interrupted",
                                              "leader_unknown"]
    assert f"resync_{SyncReason.GAP}" == "resync_gap"


def test_kafka_identities_keep_their_strings() -> None:
    assert shard_transactional_id("A", "s10") == "dc2dc-src.A.s10"
    assert control_transactional_id("A") == "dc2dc-src.A.control"
    assert feedback_group("A") == "dc2dc-src.A.feedback"


def env(key: str) -> Envelope:
    return Envelope(op=Op.INSERT, src="A", seq=0, key=key)


class Recorder:
    """A checkpoint sink that records what happens in which order, and fails when told to."""

    def __init__(self, *, failing: str | None = None, stale: str | None = None) -> None:
        self.events: list[tuple[str, ...]] = []
        self._failing = failing
        self._stale = stale

    async def send(self, shard: str, envs: list[Envelope], generation: int) -> bool:
        await asyncio.sleep(0)
        if shard == self._failing:
            self.events.append(("failed", shard))
            raise ConnectionError(f"transaction of {shard} failed")
        if shard == self._stale:
            return False
        self.events.append(("committed", shard, str(generation), ",".join(e.key or "" for e in envs)))
        return True

    def sent(self, shard: str, tick: int, count: int) -> None:
        self.events.append(("advanced", shard, str(tick), str(count)))

    def advance_tail(self) -> None:
        self.events.append(("tail",))


async def test_commit_sends_and_commits_each_shard_then_advances_it_then_the_tail() -> None:
    checkpoint = TailCheckpoint()
    checkpoint.add("s1", [env("a")], 10, generation=3)
    checkpoint.add("s1", [env("b")], 12, generation=4)
    checkpoint.add("s1", [env("gap")], 8, generation=4, first=True)
    sink = Recorder()
    await checkpoint.commit(sink, sink.advance_tail)
    assert sink.events == [("committed", "s1", "3", "gap,a,b"), ("advanced", "s1", "12", "3"), ("tail",)], \
        "a batch keeps the generation it was routed in, and its highest tick"


async def test_a_failed_send_advances_neither_its_shard_nor_the_tail_but_a_committed_shard_advances() -> None:
    checkpoint = TailCheckpoint()
    checkpoint.add("ok", [env("a")], 5, generation=1)
    checkpoint.add("bad", [env("b")], 6, generation=1)
    sink = Recorder(failing="bad")
    with pytest.raises(ConnectionError):
        await checkpoint.commit(sink, sink.advance_tail)
    assert ("tail",) not in sink.events, "the chunk must be read again"
    assert not any(e[0] == "advanced" and e[1] == "bad" for e in sink.events)
    assert ("advanced", "ok", "5", "1") in sink.events, "a committed shard skips what it holds on the re-read"


async def test_a_stale_batch_is_not_advanced_and_does_not_hold_the_tail_back() -> None:
    checkpoint = TailCheckpoint()
    checkpoint.add("moved", [env("a")], 5, generation=1)
    sink = Recorder(stale="moved")
    await checkpoint.commit(sink, sink.advance_tail)
    assert sink.events == [("tail",)], "the shard began a resync: its snapshot covers the batch"


def test_the_checkpoint_knows_which_shards_it_holds_and_their_tick() -> None:
    checkpoint = TailCheckpoint()
    assert "s1" not in checkpoint and checkpoint.tick("s1") == 0
    checkpoint.add("s1", [env("a")], 7, generation=1)
    assert "s1" in checkpoint and checkpoint.tick("s1") == 7
