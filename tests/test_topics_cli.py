"""``dc2dc topics list|inspect`` against a real Kafka broker, through the real CLI.

The commands call ``asyncio.run`` themselves, so these tests are plain functions: they write
their records with ``asyncio.run`` too and then invoke the CLI as an operator would.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from click.testing import CliRunner, Result

from dc2dc.pipeline.ops.cli import main
from dc2dc.topics.admin import DEFAULT_RETENTION_MS, ensure_topics
from dc2dc.topics.codec import encode
from dc2dc.topics.envelope import Envelope, Op
from dc2dc.topics.names import (TopicKind, TopicName, apply_group, control_topic, feedback_probe_topic,
                                feedback_topic, parse_topic, probe_topic, shard_topic)
from dc2dc.topics.signing import Signer, generate_keypair, load_private_key

Record = tuple[bytes, list[tuple[str, bytes]], int | None]   # value, headers, timestamp_ms


@pytest.fixture
def bootstrap(kafka_two_dc) -> str:  # the fixture's type lives in tests/conftest.py
    return kafka_two_dc.bootstrap("A")


@pytest.fixture
def flow() -> tuple[str, str]:
    """Source and destination DC ids no other test uses, so topic and group names never collide."""
    tag = uuid.uuid4().hex[:10]
    return f"s{tag}", f"d{tag}"


@pytest.fixture
def signer(tmp_path: Path, flow: tuple[str, str]) -> Signer:
    private, _public = generate_keypair(tmp_path / "keys", flow[0])
    return Signer.for_key(load_private_key(private))   # as a worker signs: under its key id


@pytest.fixture
def topology(tmp_path: Path, bootstrap: str, flow: tuple[str, str], signer: Signer) -> Path:
    src, dst = flow
    path = tmp_path / "topology.toml"
    # Both DCs on one broker: the destination's Kafka then holds the source's topics, as after MM2.
    path.write_text(f'[dc.{src}]\nkafka = "{bootstrap}"\narangodb = "http://127.0.0.1:1"\n'
                    f'verify_key = "keys/{src}.pub"\n'
                    f'[dc.{dst}]\nkafka = "{bootstrap}"\narangodb = "http://127.0.0.1:2"\n'
                    f'[[replication]]\nfrom = "{src}"\nto = "{dst}"\n')
    return path


def change(src: str, seq: int, shard: str = "s1") -> tuple[bytes, list[tuple[str, bytes]]]:
    return encode(Envelope(op=Op.INSERT, src=src, seq=seq, gen=7, epoch=2, tick=str(1000 + seq), shard=shard,
                           key=f"k{seq}", doc={"_key": f"k{seq}"}))


def signed(signer: Signer, value: bytes, headers: list[tuple[str, bytes]], ts: int | None = None) -> Record:
    return value, signer.sign(value, headers), ts


def write(bootstrap: str, topic: str, records: list[Record], topics: tuple[str, ...] = ()) -> None:
    async def run() -> None:
        await ensure_topics(bootstrap, [topic, *topics])
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
        await producer.start()
        try:
            for value, headers, ts in records:
                await producer.send_and_wait(topic, value, headers=headers, timestamp_ms=ts)
        finally:
            await producer.stop()
    asyncio.run(run())


def commit(bootstrap: str, group: str, topic: str, offset: int) -> None:
    async def run() -> None:
        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
        await consumer.start()
        try:
            tp = TopicPartition(topic, 0)
            consumer.assign([tp])
            await consumer.commit({tp: offset})
        finally:
            await consumer.stop()
    asyncio.run(run())


def dc2dc(*args: str) -> Result:
    result = CliRunner().invoke(main, list(args))
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


def inspected(topology: Path, dc: str, topic: str, *options: str) -> list[dict[str, Any]]:
    result = dc2dc("topics", "inspect", "--topology", str(topology), "--dc", dc, topic, "--json", *options)
    assert result.exit_code == 0, result.output
    return [orjson.loads(line) for line in result.output.splitlines()]


def test_list_shows_each_dc2dc_topic_with_its_message_count_owner_settings_and_group_lag(
        bootstrap: str, topology: Path, flow: tuple[str, str], signer: Signer) -> None:
    src, dst = flow
    topic, feedback, foreign = shard_topic(src, "s1"), feedback_topic(src, dst), f"other-{src}"
    write(bootstrap, topic, [signed(signer, *change(src, seq)) for seq in (1, 2, 3)], topics=(feedback, foreign))
    structure = {"databases": {"shop": {"collections": {"orders": {"shards": ["s0", "s1"]}}}}}
    write(bootstrap, control_topic(src), [signed(signer, *encode(Envelope(op=Op.STRUCTURE, src=src, seq=1, epoch=1,
                                                                          body=structure)))])
    commit(bootstrap, apply_group(src, dst), topic, 2)

    result = dc2dc("topics", "list", "--topology", str(topology), "--dc", dst, "--json")
    assert result.exit_code == 0, result.output
    listed = {t["name"]: t for t in orjson.loads(result.output)}

    assert foreign not in listed
    shard = listed[topic]
    assert (shard["kind"], shard["src"], shard["shard"], shard["owner"]) == \
        ("shard", src, "s1", f"shard s1 of {src} (shop/orders)")
    assert (shard["database"], shard["collection"]) == ("shop", "orders")
    assert (shard["partitions"], shard["start_offset"], shard["end_offset"], shard["messages"]) == (1, 0, 3, 3)
    assert (shard["retention_ms"], shard["cleanup_policy"]) == (str(DEFAULT_RETENTION_MS), "delete")
    assert shard["groups"] == [{"group": apply_group(src, dst), "committed": 2, "lag": 1}]
    assert (listed[feedback]["kind"], listed[feedback]["owner"], listed[feedback]["messages"]) == \
        ("feedback", f"flow {src} -> {dst}", 0)

    table = dc2dc("topics", "list", "--topology", str(topology), "--dc", dst)
    assert table.exit_code == 0 and topic in table.output and f"shard s1 of {src}" in table.output


def test_inspect_verifies_each_signature_and_marks_forged_unsigned_and_undecodable_records_then_goes_on(
        bootstrap: str, topology: Path, flow: tuple[str, str], signer: Signer) -> None:
    src, dst = flow
    topic = shard_topic(src, "s1")
    genuine, headers = change(src, 2)
    forged = genuine.replace(b'"k2"', b'"k9"')                  # value changed after signing
    write(bootstrap, topic, [
        signed(signer, *change(src, 1)),
        (forged, signer.sign(genuine, headers), None),
        signed(signer, *change(src, 2, shard="s2")),           # another shard's record replayed here
        signed(signer, b"\x00 garbage", [("shard", b"s1")]),    # genuinely signed, but not an envelope
        (*change(src, 3), None),
        signed(signer, *change(src, 4)),
    ])

    shown = inspected(topology, dst, topic)

    assert [m["offset"] for m in shown] == [0, 1, 2, 3, 4, 5]
    assert shown[0]["signature"] == "verified"
    assert shown[1]["signature"].startswith("FORGED: bad signature")
    assert shown[2]["signature"].startswith("FORGED: record of shard b's2'")
    assert shown[3]["signature"] == "verified" and shown[3]["op"] is None
    assert shown[3]["error"].startswith("value is not JSON")
    assert shown[4]["signature"] == "UNSIGNED"
    assert shown[5]["signature"] == "verified"
    assert [(m["op"], m["seq"], m["gen"], m["epoch"], m["tick"], m["key"]) for m in (shown[0], shown[5])] == \
        [("insert", 1, 7, 2, "1001", "k1"), ("insert", 4, 7, 2, "1004", "k4")]

    table = dc2dc("topics", "inspect", "--topology", str(topology), "--dc", dst, topic)
    assert table.exit_code == 0
    for expected in ("verified", "FORGED", "UNSIGNED", "UNDECODABLE", "k4"):
        assert expected in table.output


def test_inspect_since_a_time_skips_older_records_and_from_offset_with_limit_pages(
        bootstrap: str, topology: Path, flow: tuple[str, str], signer: Signer) -> None:
    src, dst = flow
    topic = shard_topic(src, "s1")
    now_ms = int(time.time() * 1000)
    hour_ago = now_ms - 3_600_000
    write(bootstrap, topic, [signed(signer, *change(src, seq), ts=hour_ago if seq <= 2 else now_ms)
                             for seq in (1, 2, 3, 4)])
    half_an_hour_ago = datetime.fromtimestamp((now_ms - 1_800_000) / 1000, timezone.utc).isoformat()

    assert [m["seq"] for m in inspected(topology, dst, topic, "--since", half_an_hour_ago)] == [3, 4]
    assert [m["offset"] for m in inspected(topology, dst, topic, "--from-offset", "1", "--limit", "2")] == [1, 2]
    in_the_future = datetime.fromtimestamp(now_ms / 1000 + 3600, timezone.utc).isoformat()
    assert inspected(topology, dst, topic, "--since", in_the_future) == []


def test_inspect_of_a_topic_that_is_not_there_says_so_without_a_traceback(
        bootstrap: str, topology: Path, flow: tuple[str, str]) -> None:
    src, dst = flow
    result = dc2dc("topics", "inspect", "--topology", str(topology), "--dc", dst, shard_topic(src, "nope"))
    assert result.exit_code == 1
    assert f"no topic '{shard_topic(src, 'nope')}'" in result.output


def test_parse_topic_recognises_exactly_the_names_dc2dc_makes_and_who_signs_each() -> None:
    assert parse_topic(shard_topic("A", "s1")) == TopicName(TopicKind.SHARD, "A", shard="s1")
    assert parse_topic(control_topic("A")) == TopicName(TopicKind.CONTROL, "A")
    assert parse_topic(probe_topic("A")) == TopicName(TopicKind.PROBE, "A")
    assert parse_topic(feedback_topic("A", "B")) == TopicName(TopicKind.FEEDBACK, "A", dst="B")
    assert parse_topic(feedback_probe_topic("A", "B")) == TopicName(TopicKind.FEEDBACK_PROBE, "A", dst="B")
    for other in ("dc2dc.A", "dc2dc.A.shard.s1.x", "mm2-offsets.B.internal", "A.control", "dc2dc.A.feedback"):
        assert parse_topic(other) is None
    assert [parse_topic(t).signer for t in (shard_topic("A", "s1"), feedback_topic("A", "B"))] == ["A", "B"]
