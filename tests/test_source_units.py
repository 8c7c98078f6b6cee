"""Pure rules of the source side: write-batch units, marker translation, tail positions."""

from __future__ import annotations

import time
from typing import Any

import pytest

from dc2dc.agents.source import SourceComponent, SourceSettings
from dc2dc.pipeline.applied import AppliedPosition
from dc2dc.pipeline.arango.endpoint import ArangoEndpoint
from dc2dc.pipeline.arango.http import ArangoHttp
from dc2dc.pipeline.source.shard_producer import ShardPosition
from dc2dc.topics.names import shard_transactional_id
from dc2dc.pipeline.snapshot import shard_order
from dc2dc.pipeline.source.wal_markers import MarkerError, ShardContext, UnitAssembler, shard_envelopes
from dc2dc.pipeline.source.wal_tailer import TailChunk, WalTailer, syncer_id
from dc2dc.topics.envelope import Envelope, Op

CTX = ShardContext(src="A", db="shop", coll="items", shard="s10", cid="c9", server="PRMR-1", epoch=3)


def doc(tick: int, key: str, tid: str = "0", **fields: Any) -> dict[str, Any]:
    return {"tick": str(tick), "type": 2300, "db": "shop", "cuid": "c9/s10", "tid": tid,
            "data": {"_key": key, "_id": f"s10/{key}", "_rev": f"r{tick}", **fields}}


def rm(tick: int, key: str, tid: str = "0") -> dict[str, Any]:
    return {"tick": str(tick), "type": 2302, "db": "shop", "cuid": "c9/s10", "tid": tid,
            "data": {"_key": key, "_rev": f"r{tick}"}}


def begin(tick: int, tid: str) -> dict[str, Any]:
    return {"tick": str(tick), "type": 2200, "db": "shop", "tid": tid}


def commit(tick: int, tid: str) -> dict[str, Any]:
    return {"tick": str(tick), "type": 2201, "db": "shop", "tid": tid}


def test_single_operations_are_units_of_their_own() -> None:
    units = UnitAssembler().feed([doc(5, "a"), rm(7, "b")])
    assert [(u.begin_tick, u.tick, u.tid, len(u.markers)) for u in units] == [(5, 5, None, 1), (7, 7, None, 1)]


def test_a_transaction_split_over_responses_becomes_one_unit_and_holds_back_the_safe_tick() -> None:
    assembler = UnitAssembler()
    assert assembler.feed([doc(3, "x"), begin(10, "77"), doc(10, "a", "77")])[0].tick == 3
    assert assembler.open_begin_tick == 10
    assert assembler.safe_tick(10) == 9, "a resume must re-read the open transaction from its begin"
    (unit,) = assembler.feed([rm(12, "b", "77"), commit(12, "77")])
    assert (unit.begin_tick, unit.tick, unit.tid, len(unit.markers)) == (10, 12, "77", 2)
    assert assembler.safe_tick(12) == 12


def test_a_truncate_without_tid_inside_a_transaction_belongs_to_it() -> None:
    truncate = {"tick": "21", "type": 2004, "db": "shop", "cuid": "c9/s10"}
    (unit,) = UnitAssembler().feed([begin(20, "5"), doc(20, "a", "5"), truncate, commit(21, "5")])
    assert [m["type"] for m in unit.markers] == [2300, 2004]


@pytest.mark.parametrize("markers", [
    [commit(4, "9")],
    [begin(4, "9"), begin(5, "10")],
    [doc(4, "a", tid="9")],
    [{"tick": "4", "type": 9999, "db": "shop"}],
])
def test_a_broken_marker_stream_is_refused_not_guessed(markers: list[dict[str, Any]]) -> None:
    with pytest.raises(MarkerError):
        UnitAssembler().feed(markers)


def test_ddl_markers_are_units_that_carry_the_marker() -> None:
    create = {"tick": "8", "type": 2000, "db": "shop", "cuid": "c9/s10", "data": {"name": "s10"}}
    (unit,) = UnitAssembler().feed([create])
    assert unit.structure == create and unit.markers == []


def test_translation_keeps_key_rev_and_document_but_not_the_source_id() -> None:
    (unit,) = UnitAssembler().feed([doc(5, "a", n=1)])
    (env,) = shard_envelopes(unit, unit.markers, CTX, ts=99)
    assert (env.op, env.key, env.rev, env.tick, env.server, env.epoch, env.ts) == (Op.INSERT, "a", "r5", "5", "PRMR-1", 3, 99)
    assert env.doc == {"_key": "a", "_rev": "r5", "n": 1}
    assert (env.db, env.coll, env.shard, env.cid, env.tid) == ("shop", "items", "s10", "c9", None)


def test_a_transaction_is_wrapped_only_where_a_shard_has_several_of_its_operations() -> None:
    (unit,) = UnitAssembler().feed([begin(10, "77"), doc(10, "a", "77"), rm(12, "b", "77"), commit(12, "77")])
    envs = shard_envelopes(unit, unit.markers, CTX)
    assert [(e.op, e.tick, e.tid) for e in envs] == [
        (Op.TXN_BEGIN, "10", "77"), (Op.INSERT, "10", "77"), (Op.REMOVE, "12", "77"), (Op.TXN_COMMIT, "12", "77")]
    (single,) = shard_envelopes(unit, unit.markers[:1], CTX)
    assert (single.op, single.tid) == (Op.INSERT, None)


def _tailer(position: int) -> WalTailer:
    return WalTailer(ArangoHttp("http://127.0.0.1:1"), server="S", from_tick=position, src="A")


def test_the_tail_resumes_after_the_last_included_tick() -> None:
    tailer = _tailer(100)
    tailer.commit(TailChunk(markers=[{}], last_included=140, last_scanned=150, last_tick=200, check_more=True))
    assert tailer.position == 140


def test_an_empty_answer_moves_to_last_scanned_minus_one_and_never_back() -> None:
    tailer = _tailer(100)
    tailer.commit(TailChunk(markers=[], last_included=0, last_scanned=130, last_tick=130, check_more=False))
    assert tailer.position == 129
    tailer.commit(TailChunk(markers=[], last_included=0, last_scanned=50, last_tick=130, check_more=False))
    assert tailer.position == 129


async def test_checkmore_without_progress_waits_like_an_idle_answer() -> None:
    """Real 3.11/3.12 servers set checkmore only with markers (lastIncluded > 0); an answer that
    says "more" but brings nothing and moves nothing must not make the tailer ask again at once."""
    tailer = WalTailer(ArangoHttp("http://127.0.0.1:1"), server="S", from_tick=100, src="A",
                       idle_min=0.2, idle_max=0.2)
    nothing = TailChunk(markers=[], last_included=0, last_scanned=99, last_tick=130, check_more=True)
    tailer.commit(nothing)
    started = time.monotonic()
    await tailer.wait(nothing)
    assert time.monotonic() - started >= 0.2
    assert tailer.position == 100
    moved = TailChunk(markers=[], last_included=0, last_scanned=120, last_tick=130, check_more=True)
    tailer.commit(moved)
    started = time.monotonic()
    await tailer.wait(moved)
    assert time.monotonic() - started < 0.1, "an answer that moved the position: ask again at once"


def test_a_tail_never_starts_from_zero() -> None:
    with pytest.raises(ValueError):
        _tailer(0)


def test_identities_are_stable_and_safe() -> None:
    assert syncer_id("A", "PRMR-1") == syncer_id("A", "PRMR-1") > 0
    assert syncer_id("A", "PRMR-1") != syncer_id("B", "PRMR-1")
    assert shard_transactional_id("A", "s10") != shard_transactional_id("A", "s11")


def test_shards_sort_numerically_which_is_hash_slot_order() -> None:
    assert sorted(["s100", "s99", "s1000"], key=shard_order) == ["s99", "s100", "s1000"]


def test_a_topic_ending_inside_a_resync_reports_it_open() -> None:
    assert ShardPosition(seq=4, op=Op.RESYNC_DOC).resync_open
    assert not ShardPosition(seq=5, op=Op.RESYNC_END).resync_open
    assert ShardPosition().empty


def test_a_grant_on_a_database_the_snapshot_does_not_hold_waits_for_the_next_snapshot() -> None:
    from dc2dc.pipeline.source.structure_read import grants_within  # noqa: PLC0415

    users = {"alice": {"active": True, "extra": {}, "permissions": {
        "shop": {"level": "rw", "collections": {}}, "new": {"level": "ro", "collections": {}},
        "*": {"level": "ro", "collections": {}}}}}
    assert grants_within(users, {"shop"})["alice"]["permissions"] == {
        "shop": {"level": "rw", "collections": {}}, "*": {"level": "ro", "collections": {}}}


async def test_applied_feedback_is_kept_typed_with_int_ticks_and_shown_in_status_as_it_was_sent() -> None:
    component = SourceComponent(SourceSettings(src="A", kafka="127.0.0.1:1",
                                               arangodb=ArangoEndpoint("http://127.0.0.1:1")))
    sent = {"s1": {"seq": 4, "tick": "901", "ts": 17}}
    component._on_feedback(Envelope(op=Op.APPLIED, src="A", seq=0, body={"dst": "B", "positions": sent}))
    assert component.applied == {"B": {"s1": AppliedPosition(seq=4, tick=901, ts=17)}}
    assert component.status()["applied"] == {"B": sent}
    await component.cluster.coordinator.close()
