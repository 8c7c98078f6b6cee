"""Per-shard intake on the destination (``pipeline.destination.intake``): which record of a shard stream is
queued for apply and which is dropped, waited past or read again. Pure logic: no Kafka, no ArangoDB."""

from __future__ import annotations

import pytest

from dc2dc.pipeline.destination.intake import ShardIntake, Verdict
from dc2dc.pipeline.destination.positions import Position
from dc2dc.topics.chunking import ChunkLimits, Reassembler, to_records
from dc2dc.topics.codec import decode
from dc2dc.topics.envelope import Envelope, Op
from dc2dc.topics.errors import ChunkError


def ins(seq: int, gen: int = 0, key: str = "k") -> Envelope:
    return Envelope(op=Op.INSERT, src="A", seq=seq, gen=gen, shard="s1", key=key, doc={"_key": key})


def resync_begin(seq: int, gen: int = 0) -> Envelope:
    return Envelope(op=Op.RESYNC_BEGIN, src="A", seq=seq, gen=gen, shard="s1", body={"reason": "gap"})


def after(seq: int, gen: int = 0) -> ShardIntake:
    """The intake of shard s1 whose stored position is ``seq`` of generation ``gen`` (at offset ``seq``)."""
    pos = Position(src="A", shard="s1", seq=seq, offset=seq, gen=gen) if seq else None
    return ShardIntake.resuming("A", "s1", pos, Reassembler())


def queued_seqs(intake: ShardIntake) -> list[int]:
    return [r.env.seq for r in intake.queue]


def test_records_at_or_below_the_stored_position_are_duplicates_and_never_queued() -> None:
    intake = after(5)
    intake.accept(ins(6), 6)   # the seek landed right: the first record after it is the next seq
    assert [intake.accept(ins(s), s).verdict for s in (3, 5, 6)] == [Verdict.DUPLICATE] * 3
    assert intake.accept(ins(7), 7).verdict is Verdict.QUEUED
    assert queued_seqs(intake) == [6, 7]


def test_a_first_record_past_the_next_seq_after_a_seek_reads_the_partition_again_once() -> None:
    intake = after(5)
    assert intake.accept(ins(9), 100).verdict is Verdict.REWIND   # the offset hint pointed too far
    assert intake.queue == []
    for seq in (1, 5):
        assert intake.accept(ins(seq), seq).verdict is Verdict.DUPLICATE
    assert intake.accept(ins(6), 6).verdict is Verdict.QUEUED
    assert queued_seqs(intake) == [6]


def test_a_seq_gap_stops_the_shard_until_a_resync_begins() -> None:
    intake = after(5)
    intake.accept(ins(6), 6)
    opened = intake.accept(ins(8), 8)
    assert (opened.verdict, opened.gap) == (Verdict.SKIPPED_IN_GAP, "seq gap: expected 7, got 8")
    assert intake.gap
    later = intake.accept(ins(9), 9)
    assert (later.verdict, later.gap) == (Verdict.SKIPPED_IN_GAP, None)   # one gap, reported once
    begun = intake.accept(resync_begin(10), 10)
    assert (begun.verdict, begun.resumed, intake.gap) == (Verdict.QUEUED, True, False)
    assert intake.accept(ins(11), 11).verdict is Verdict.QUEUED
    assert queued_seqs(intake) == [6, 10, 11]


def test_a_gap_after_a_rewind_is_a_gap_not_a_second_rewind() -> None:
    intake = after(5)
    assert intake.accept(ins(9), 100).verdict is Verdict.REWIND
    assert intake.accept(ins(8), 8).gap == "seq gap: expected 6, got 8"   # seq 6 and 7 are gone from the topic


def test_a_record_set_aside_right_after_a_seek_uses_up_the_rewind_chance() -> None:
    intake = after(5)
    intake.set_aside()   # a poison record was the first one read
    assert intake.accept(ins(9), 9).verdict is Verdict.SKIPPED_IN_GAP


def test_records_of_an_older_generation_are_dropped() -> None:
    intake = after(40, gen=2000)
    intake.accept(ins(41, gen=2000), 41)
    assert intake.accept(ins(42, gen=1000), 42).verdict is Verdict.SUPERSEDED
    assert intake.accept(ins(1, gen=1000), 43).verdict is Verdict.SUPERSEDED
    assert queued_seqs(intake) == [41]


def test_a_newer_generation_replaces_the_stream_from_its_seq_1() -> None:
    intake = after(40, gen=1000)
    intake.accept(ins(41, gen=1000), 41)
    first = intake.accept(resync_begin(1, gen=2000), 42)
    assert (first.verdict, first.gap) == (Verdict.QUEUED, None)   # seq 1 after seq 41: no gap, no duplicate
    assert (intake.gen, intake.last_seen) == (2000, 1)
    assert intake.accept(ins(2, gen=2000), 43).verdict is Verdict.QUEUED
    assert [(r.env.gen, r.env.seq) for r in intake.queue] == [(1000, 41), (2000, 1), (2000, 2)]


def test_chunks_are_queued_once_as_the_whole_document() -> None:
    big = Envelope(op=Op.INSERT, src="A", seq=6, shard="s1", key="big", doc={"_key": "big", "x": "y" * 20_000})
    chunks = [decode(v, h) for v, h in to_records(big, ChunkLimits(max_message_bytes=8192, headroom=1024))]
    assert len(chunks) > 2
    intake = after(5)
    verdicts = [intake.accept(c, 6 + i).verdict for i, c in enumerate(chunks)]
    assert verdicts == [Verdict.INCOMPLETE] * (len(chunks) - 1) + [Verdict.QUEUED]
    (whole,) = intake.queue
    assert (whole.env.doc, whole.env.chunk, whole.offset) == (big.doc, None, 5 + len(chunks))


def test_a_chunk_without_its_start_raises_and_queues_nothing() -> None:
    big = Envelope(op=Op.INSERT, src="A", seq=6, shard="s1", key="big", doc={"_key": "big", "x": "y" * 20_000})
    chunks = [decode(v, h) for v, h in to_records(big, ChunkLimits(max_message_bytes=8192, headroom=1024))]
    intake = after(5)
    with pytest.raises(ChunkError):
        intake.accept(chunks[1], 7)
    assert intake.queue == [] and intake.last_seen == 5


def test_take_empties_the_queue() -> None:
    intake = after(0)
    intake.accept(ins(1), 0)
    assert [r.env.seq for r in intake.take()] == [1]
    assert intake.queue == [] and intake.take() == []
