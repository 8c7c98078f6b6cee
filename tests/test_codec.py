"""Envelope codec: plain JSON values, headers that agree with them, and no guessing on decode."""

from __future__ import annotations

import json

import orjson
import pytest
from envelope_strategies import envelopes
from hypothesis import given

from dc2dc.pipeline.errors import DecodeError
from dc2dc.topics.codec import decode, encode
from dc2dc.topics.envelope import SCHEMA_VERSION, Envelope, Op


def insert(**kw: object) -> Envelope:
    fields: dict = dict(op=Op.INSERT, src="A", seq=42, shard="s1001", db="Zürich", coll="c",
                        key="k1", rev="_r1", tick="77", doc={"_key": "k1", "n": 1})
    fields.update(kw)
    return Envelope(**fields)


@given(envelopes())
def test_any_envelope_round_trips(env: Envelope) -> None:
    value, headers = encode(env)
    assert decode(value, headers) == env


@given(envelopes())
def test_encoding_is_stable(env: Envelope) -> None:
    assert encode(env) == encode(decode(*encode(env)))


@given(envelopes())
def test_value_is_plain_json_any_json_tool_can_read(env: Envelope) -> None:
    value, _ = encode(env)
    obj = json.loads(value.decode("utf-8"))
    assert obj["v"] == SCHEMA_VERSION
    assert obj["op"] == env.op.value
    assert obj["seq"] == env.seq


def test_value_is_compact_starts_with_version_and_omits_none_fields() -> None:
    value, _ = encode(Envelope(op=Op.HEARTBEAT, src="A", seq=3, shard="s1", ts=1700))
    assert value == b'{"v":1,"op":"heartbeat","src":"A","seq":3,"epoch":0,"gen":0,"tick":"0","ts":1700,"shard":"s1"}'


def test_unicode_names_travel_as_utf8_text_not_escapes() -> None:
    value, _ = encode(insert(db="база", coll="集合"))
    assert "база".encode() in value and "集合".encode() in value


def test_headers_carry_shard_seq_and_chunk() -> None:
    assert encode(insert())[1] == [("shard", b"s1001"), ("seq", b"42")]
    chunked = insert(doc=None, chunk=(2, 5), part="{")
    assert encode(chunked)[1] == [("shard", b"s1001"), ("seq", b"42"), ("chunk", b"2/5")]
    assert encode(Envelope(op=Op.STRUCTURE, src="A", seq=9, epoch=9))[1] == [("seq", b"9")]


def test_unknown_fields_of_the_same_version_are_kept_and_written_back() -> None:
    value = b'{"v":1,"op":"insert","src":"A","seq":1,"newField":{"x":[1]},"other":2}'
    env = decode(value)
    assert env.extra == {"newField": {"x": [1]}, "other": 2}
    assert orjson.loads(encode(env)[0]) == orjson.loads(value) | {"epoch": 0, "gen": 0, "tick": "0", "ts": 0}


def test_extra_may_not_shadow_a_field() -> None:
    with pytest.raises(ValueError, match="seq"):
        encode(insert(extra={"seq": 1}))


def test_newer_schema_version_is_refused_with_a_clear_message() -> None:
    value = orjson.dumps({"v": SCHEMA_VERSION + 1, "op": "insert", "src": "A", "seq": 1})
    with pytest.raises(DecodeError, match=rf"schema version {SCHEMA_VERSION + 1} is newer.*upgrade"):
        decode(value)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (b"not json", "not JSON"),
        (b"", "not JSON"),
        (b"[1,2]", "not an object"),
        (b'{"op":"insert","src":"A","seq":1}', "'v'"),
        (b'{"v":"1","op":"insert","src":"A","seq":1}', "'v'"),
        (b'{"v":1,"src":"A","seq":1}', "missing required field.*op"),
        (b'{"v":1,"op":"insert","seq":1}', "missing required field.*src"),
        (b'{"v":1,"op":"insert","src":"A"}', "missing required field.*seq"),
        (b'{"v":1,"op":"upsert","src":"A","seq":1}', "'op' must be one of"),
        (b'{"v":1,"op":"insert","src":"A","seq":"1"}', "'seq' must be an integer"),
        (b'{"v":1,"op":"insert","src":"A","seq":true}', "'seq' must be an integer"),
        (b'{"v":1,"op":"insert","src":"A","seq":1,"tick":5}', "'tick' must be a string"),
        (b'{"v":1,"op":"insert","src":"A","seq":1,"doc":[1]}', "'doc' must be a JSON object"),
        (b'{"v":1,"op":"insert","src":"A","seq":1,"chunk":[3,3]}', "'chunk' must be"),
        (b'{"v":1,"op":"insert","src":"A","seq":1,"chunk":[0]}', "'chunk' must be"),
        (b'{"v":1,"op":"insert","src":"A","seq":1,"src":null}', "'src' must be a string"),
    ],
)
def test_malformed_values_raise_decode_error_naming_topic_and_offset(value: bytes, message: str) -> None:
    with pytest.raises(DecodeError, match=message) as err:
        decode(value, topic="dc2dc.A.shard.s1", offset=17)
    assert "(dc2dc.A.shard.s1@17)" in str(err.value)


def test_tombstone_is_refused() -> None:
    with pytest.raises(DecodeError, match="no value"):
        decode(None, topic="t", offset=0)


def test_null_optional_field_reads_as_absent() -> None:
    assert decode(b'{"v":1,"op":"insert","src":"A","seq":1,"key":null}').key is None


@pytest.mark.parametrize(
    "headers",
    [
        [("shard", b"s9"), ("seq", b"42")],        # another shard's header
        [("shard", b"s1001"), ("seq", b"41")],     # another seq
        [("shard", b"s1001"), ("seq", b"42"), ("chunk", b"0/2")],  # chunk header, unchunked value
        [("shard", b"s1001"), ("shard", b"s1001"), ("seq", b"42")],  # ambiguous duplicate
    ],
)
def test_headers_that_contradict_the_value_are_refused(headers: list[tuple[str, bytes]]) -> None:
    value, _ = encode(insert())
    with pytest.raises(DecodeError):
        decode(value, headers, topic="t", offset=1)


def test_headers_are_optional_and_foreign_headers_ignored() -> None:
    value, _ = encode(insert())
    assert decode(value, None) == insert()
    assert decode(value, [("traceparent", b"00-abc")]) == insert()
