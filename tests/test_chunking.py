"""Large documents: split into ordered chunks within the message limit, reassembled exactly once."""

from __future__ import annotations

import dataclasses

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dc2dc.pipeline.errors import ChunkError
from dc2dc.topics.chunking import ChunkLimits, Reassembler, to_records
from dc2dc.topics.codec import decode
from dc2dc.topics.envelope import Envelope, Op

MiB = 1024 * 1024
SMALL = ChunkLimits(max_message_bytes=16 * 1024, headroom=1024)


def doc_env(doc: dict, seq: int = 5, shard: str = "s1") -> Envelope:
    return Envelope(op=Op.INSERT, src="A", seq=seq, shard=shard, db="d", coll="c", key="k",
                    rev="_r", tick="99", doc=doc)


def chunks_of(env: Envelope, limits: ChunkLimits = SMALL) -> list[Envelope]:
    return [decode(v, h) for v, h in to_records(env, limits)]


def feed_all(r: Reassembler, envs: list[Envelope]) -> list[Envelope]:
    return [out for e in envs if (out := r.feed(e)) is not None]


def test_small_message_is_one_unchunked_record() -> None:
    env = doc_env({"_key": "k", "x": 1})
    [(value, headers)] = to_records(env, SMALL)
    assert decode(value, headers) == env
    assert "chunk" not in dict(headers)


def test_32_mb_document_with_8_mib_limit_fits_and_reassembles() -> None:
    limits = ChunkLimits(max_message_bytes=8 * MiB)
    big = {"_key": "k", "blob": "ü\"\\x" * (32 * MiB // 6), "n": list(range(1000))}
    env = doc_env(big)
    records = to_records(env, limits)
    assert len(records) >= 4
    assert all(len(v) <= limits.max_value_bytes for v, _ in records)
    envs = [decode(v, h) for v, h in records]
    assert [e.chunk for e in envs] == [(i, len(records)) for i in range(len(records))]
    assert {e.seq for e in envs} == {5}
    assert feed_all(Reassembler(), envs) == [env]


def test_every_chunk_is_a_readable_message_repeating_the_metadata() -> None:
    env = doc_env({"_key": "k", "blob": "x" * 50_000})
    for c in chunks_of(env):
        assert (c.op, c.key, c.rev, c.tick, c.db, c.coll, c.seq) == ("insert", "k", "_r", "99", "d", "c", 5)
        assert c.doc is None and c.part


@settings(max_examples=60, deadline=None)
@given(st.text(min_size=1, max_size=60_000), st.integers(4 * 1024 + 64, 20_000))
def test_split_is_utf8_safe_within_limit_and_lossless(text: str, max_bytes: int) -> None:
    limits = ChunkLimits(max_message_bytes=max_bytes, headroom=64)
    env = doc_env({"t": text, "q": '"\\' * (len(text) % 7)})
    records = to_records(env, limits)
    assert all(len(v) <= limits.max_value_bytes for v, _ in records)
    envs = [decode(v, h) for v, h in records]
    if len(envs) > 1:
        assert "".join(e.part for e in envs) == orjson.dumps(env.doc).decode()
    assert feed_all(Reassembler(), envs) == [env]


def test_large_structure_body_is_split_and_reassembled_into_body() -> None:
    env = Envelope(op=Op.STRUCTURE, src="A", seq=3, epoch=3,
                   body={"collections": [{"name": f"c{i}", "shards": i} for i in range(3000)]})
    envs = chunks_of(env)
    assert len(envs) > 1 and {e.part_of for e in envs} == {"body"}
    assert all(e.body is None for e in envs)
    assert feed_all(Reassembler(), envs) == [env]


def test_the_larger_of_doc_and_body_is_the_one_split() -> None:
    env = doc_env({"_key": "k"})
    env.body = {"meta": "m" * 40_000}
    envs = chunks_of(env)
    assert {e.part_of for e in envs} == {"body"} and all(e.doc == {"_key": "k"} for e in envs)
    assert feed_all(Reassembler(), envs) == [env]

    env = doc_env({"_key": "k", "a": "x" * 40_000})
    env.body = {"z": 1}
    envs = chunks_of(env)
    assert {e.part_of for e in envs} == {"doc"} and all(e.body == {"z": 1} for e in envs)
    assert feed_all(Reassembler(), envs) == [env]


def test_chunks_name_the_field_they_rebuild() -> None:
    assert {e.part_of for e in chunks_of(doc_env(BIG))} == {"doc"}


def test_message_too_large_without_doc_or_body_is_refused() -> None:
    env = Envelope(op=Op.HEARTBEAT, src="A", seq=1, extra={"x": "y" * 50_000})
    with pytest.raises(ChunkError, match="only a doc or body can be split"):
        to_records(env, SMALL)


def test_chunk_naming_an_unknown_field_is_refused() -> None:
    first = chunks_of(doc_env(BIG))[0]
    with pytest.raises(ChunkError, match="part_of='key'"):
        Reassembler().feed(dataclasses.replace(first, part_of="key"))


def test_metadata_too_large_for_any_part_is_refused() -> None:
    env = doc_env({"x": "y" * 50_000})
    env.extra["huge"] = "z" * 14_500
    with pytest.raises(ChunkError, match="too large for the message limit"):
        to_records(env, SMALL)


def test_limits_must_leave_room_for_a_value() -> None:
    with pytest.raises(ValueError, match="too little room"):
        ChunkLimits(max_message_bytes=64 * 1024, headroom=64 * 1024)


# --- reassembly rules ---------------------------------------------------------------------

BIG = {"_key": "k", "blob": "x" * 40_000}


def test_unchunked_messages_pass_through() -> None:
    r = Reassembler()
    env = doc_env({"a": 1})
    assert r.feed(env) is env


def test_chunks_of_different_shards_interleave() -> None:
    a, b = chunks_of(doc_env(BIG, shard="s1")), chunks_of(doc_env(BIG, shard="s2"))
    mixed = [x for pair in zip(a, b) for x in pair]
    assert [e.shard for e in feed_all(Reassembler(), mixed)] == ["s1", "s2"]


def test_redelivered_chunk_while_pending_is_tolerated() -> None:
    cs = chunks_of(doc_env(BIG))
    stream = [cs[0], cs[1], cs[0], cs[1], *cs[2:]]
    assert feed_all(Reassembler(), stream) == [doc_env(BIG)]


def test_redelivered_chunk_with_other_content_is_an_error() -> None:
    cs = chunks_of(doc_env(BIG))
    r = Reassembler()
    r.feed(cs[0])
    r.feed(cs[1])
    with pytest.raises(ChunkError, match="redelivered with other content"):
        r.feed(dataclasses.replace(cs[0], part=cs[0].part + " "))


def test_missing_chunk_is_an_error() -> None:
    cs = chunks_of(doc_env(BIG))
    r = Reassembler()
    r.feed(cs[0])
    with pytest.raises(ChunkError, match=r"chunk 2/\d+ arrived, chunks 1..1 missing"):
        r.feed(cs[2])


def test_new_seq_before_completion_is_an_error_that_says_so() -> None:
    cs = chunks_of(doc_env(BIG))
    r = Reassembler()
    r.feed(cs[0])
    with pytest.raises(ChunkError, match=r"seq 6 arrived while seq 5 had 1 of \d+ chunks"):
        r.feed(doc_env({"a": 1}, seq=6))
    assert r.pending() == {("A", "s1"): (5, 1, len(cs))}


def test_a_later_seq_abandons_an_incomplete_document_so_it_can_be_read_itself() -> None:
    cs = chunks_of(doc_env(BIG))
    r = Reassembler()
    r.feed(cs[0])
    assert r.abandon_before(cs[1]) is None   # same seq: still the document being received
    assert r.abandon_before(doc_env({"a": 1}, seq=4)) is None
    nxt = doc_env({"a": 1}, seq=6)
    assert r.abandon_before(nxt) == 5
    assert r.pending() == {}
    assert r.feed(nxt) is nxt
    assert r.abandon_before(doc_env({"a": 2}, seq=7)) is None   # nothing incomplete any more


def test_chunk_without_its_first_chunks_is_an_error() -> None:
    cs = chunks_of(doc_env(BIG))
    with pytest.raises(ChunkError, match="without chunks 0..0"):
        Reassembler().feed(cs[1])


def test_tail_of_an_already_complete_document_is_dropped_as_redelivery() -> None:
    cs = chunks_of(doc_env(BIG))
    r = Reassembler()
    assert feed_all(r, cs) == [doc_env(BIG)]
    assert feed_all(r, cs[1:]) == []
    nxt = doc_env({"a": 1}, seq=6)
    assert r.feed(nxt) is nxt


def test_reset_after_seek_drops_partial_chunks_and_knows_the_applied_seq() -> None:
    cs = chunks_of(doc_env(BIG))
    r = Reassembler()
    r.feed(cs[0])
    r.reset("A", "s1", applied_seq=5)
    assert r.pending() == {}
    assert feed_all(r, cs[1:]) == []  # seq 5 was applied: its tail is a redelivery
    r.reset("A", "s1", applied_seq=4)
    with pytest.raises(ChunkError, match="without chunks"):
        r.feed(cs[1])  # seq 5 not applied and its first chunk is missing: never skip it


def test_chunk_count_change_mid_document_is_an_error() -> None:
    cs = chunks_of(doc_env(BIG))
    r = Reassembler()
    r.feed(cs[0])
    with pytest.raises(ChunkError, match="does not belong"):
        r.feed(dataclasses.replace(cs[1], chunk=(1, len(cs) + 1)))


def test_unchunked_message_with_the_pending_seq_is_an_error() -> None:
    cs = chunks_of(doc_env(BIG))
    r = Reassembler()
    r.feed(cs[0])
    with pytest.raises(ChunkError, match="being received in chunks"):
        r.feed(doc_env({"a": 1}))


def test_reassembled_text_that_is_not_json_is_an_error() -> None:
    cs = chunks_of(doc_env(BIG))
    cs[-1] = dataclasses.replace(cs[-1], part=cs[-1].part[:-1])
    with pytest.raises(ChunkError, match="not JSON"):
        feed_all(Reassembler(), cs)


@pytest.mark.parametrize("max_bytes", range(8 * 1024, 8 * 1024 + 8))
def test_multibyte_characters_are_never_cut(max_bytes: int) -> None:
    env = doc_env({"t": "é€😀" * 10_000})  # 2-, 3- and 4-byte UTF-8 sequences at every boundary
    envs = chunks_of(env, ChunkLimits(max_message_bytes=max_bytes, headroom=64))
    assert feed_all(Reassembler(), envs) == [env]
