"""Topic creation against a real Kafka broker: one partition, the right settings, idempotent,
and a clear refusal of existing topics dc2dc cannot work with."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from dc2dc.pipeline.errors import TopicConfigError
from dc2dc.topics.admin import DEFAULT_RETENTION_MS, TopicSettings, ensure_topics
from dc2dc.topics.chunking import MAX_MESSAGE_BYTES, Reassembler, to_records
from dc2dc.topics.codec import decode
from dc2dc.topics.envelope import Envelope, Op
from dc2dc.topics.names import control_topic, feedback_topic, shard_topic

# Async fixtures run on the session loop (pyproject); the broker tests must share it.
on_session_loop = pytest.mark.asyncio(loop_scope="session")


@pytest.fixture
def bootstrap(kafka_two_dc) -> str:  # the fixture's type lives in tests/conftest.py
    return kafka_two_dc.bootstrap("A")


@pytest.fixture
def dc() -> str:
    """A DC id no other test uses, so topic names never collide between parallel runs."""
    return f"t{uuid.uuid4().hex[:10]}"


@pytest.fixture
async def admin(bootstrap: str) -> AsyncIterator[AIOKafkaAdminClient]:
    client = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await client.start()
    try:
        yield client
    finally:
        await client.close()


async def topic_configs(admin: AIOKafkaAdminClient, name: str) -> dict[str, str]:
    [response] = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, name)])
    [(_code, _msg, _type, _name, entries, *_)] = response.resources
    return {e[0]: e[1] for e in entries}


async def partitions(admin: AIOKafkaAdminClient, name: str) -> int:
    [topic] = await admin.describe_topics([name])
    return len(topic["partitions"])


# --- settings, no broker needed -----------------------------------------------------------

def test_default_settings_match_the_design() -> None:
    assert TopicSettings().configs(shard_topic("A", "s1")) == {
        "cleanup.policy": "delete",
        "retention.ms": str(7 * 24 * 3600 * 1000),
        "min.insync.replicas": "1",
        "max.message.bytes": str(MAX_MESSAGE_BYTES),
    }


def test_the_control_topic_never_expires_so_the_structure_outlives_any_quiet_period() -> None:
    assert TopicSettings(retention_ms=3_600_000).configs(control_topic("A"))["retention.ms"] == "-1"
    assert TopicSettings(retention_ms=3_600_000).configs(feedback_topic("A", "B"))["retention.ms"] == "3600000"


def test_chunk_limits_follow_the_topic_message_limit() -> None:
    limits = TopicSettings(max_message_bytes=2 * 1024 * 1024).chunk_limits()
    assert limits.max_message_bytes == 2 * 1024 * 1024
    assert limits.max_value_bytes < limits.max_message_bytes


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"replication_factor": 0}, "replication_factor"),
        ({"replication_factor": 2, "min_insync_replicas": 3}, "min_insync_replicas"),
        ({"min_insync_replicas": 0}, "min_insync_replicas"),
        ({"retention_ms": 0}, "retention_ms"),
        ({"max_message_bytes": 64 * 1024}, "too little room"),
    ],
)
def test_impossible_settings_are_refused_up_front(kwargs: dict, message: str) -> None:
    with pytest.raises(TopicConfigError, match=message):
        TopicSettings(**kwargs)


def test_retention_forever_is_allowed() -> None:
    assert TopicSettings(retention_ms=-1).configs(shard_topic("A", "s1"))["retention.ms"] == "-1"


# --- against the broker ---------------------------------------------------------------------

@on_session_loop
async def test_creates_single_partition_topics_with_the_settings(
    bootstrap: str, admin: AIOKafkaAdminClient, dc: str
) -> None:
    names = [control_topic(dc), shard_topic(dc, "s1"), shard_topic(dc, "s2")]
    settings = TopicSettings(retention_ms=3_600_000)
    assert await ensure_topics(bootstrap, names, settings) == sorted(names)
    for name in names:
        assert await partitions(admin, name) == 1
        configs = await topic_configs(admin, name)
        assert configs["cleanup.policy"] == "delete"
        assert configs["retention.ms"] == ("-1" if name == control_topic(dc) else "3600000")
        assert configs["min.insync.replicas"] == "1"
        assert configs["max.message.bytes"] == str(MAX_MESSAGE_BYTES)


@on_session_loop
async def test_is_idempotent_and_creates_only_what_is_missing(bootstrap: str, dc: str) -> None:
    first, second = shard_topic(dc, "s1"), shard_topic(dc, "s2")
    assert await ensure_topics(bootstrap, [first]) == [first]
    assert await ensure_topics(bootstrap, [first]) == []
    assert await ensure_topics(bootstrap, [first, second]) == [second]


@on_session_loop
async def test_existing_topic_keeps_its_own_retention(
    bootstrap: str, admin: AIOKafkaAdminClient, dc: str
) -> None:
    name = shard_topic(dc, "s1")
    await ensure_topics(bootstrap, [name], TopicSettings(retention_ms=1_000_000))
    await ensure_topics(bootstrap, [name])  # defaults differ: the operator's choice stays
    assert (await topic_configs(admin, name))["retention.ms"] == "1000000"
    assert DEFAULT_RETENTION_MS != 1_000_000


@on_session_loop
@pytest.mark.parametrize(
    ("partitions_", "configs", "message"),
    [
        (3, {}, "exists with 3 partitions; dc2dc needs exactly 1"),
        (1, {"cleanup.policy": "compact"}, "cleanup.policy=compact"),
        (1, {"max.message.bytes": str(1024 * 1024)}, "max.message.bytes=1048576"),
    ],
)
@on_session_loop
async def test_existing_topic_dc2dc_cannot_use_is_a_clear_error(
    bootstrap: str, admin: AIOKafkaAdminClient, dc: str, partitions_: int, configs: dict, message: str
) -> None:
    name = shard_topic(dc, "s1")
    await admin.create_topics([NewTopic(name, partitions_, 1, topic_configs=configs)])
    with pytest.raises(TopicConfigError, match=message) as err:
        await ensure_topics(bootstrap, [name])
    assert name in str(err.value)
    assert err.value.retriable is False


@on_session_loop
async def test_replication_beyond_the_cluster_is_a_non_retriable_error(bootstrap: str, dc: str) -> None:
    settings = TopicSettings(replication_factor=3, min_insync_replicas=2)
    with pytest.raises(TopicConfigError, match="InvalidReplicationFactor") as err:
        await ensure_topics(bootstrap, [shard_topic(dc, "s1")], settings)
    assert err.value.retriable is False


@on_session_loop
async def test_largest_chunks_fit_the_topic_and_come_back_whole(bootstrap: str, dc: str) -> None:
    """The headroom rule, checked by Kafka itself: a 20 MB document's near-limit chunks are
    accepted by the broker and reassemble to the original."""
    name = shard_topic(dc, "s1")
    settings = TopicSettings()
    await ensure_topics(bootstrap, [name], settings)
    big = {"_key": "big", "blob": uuid.uuid4().hex * (20 * 1024 * 1024 // 32)}
    env = Envelope(op=Op.INSERT, src=dc, seq=1, shard="s1", key="big", doc=big)
    records = to_records(env, settings.chunk_limits())
    assert len(records) >= 3
    assert max(len(v) for v, _ in records) > settings.max_message_bytes - 2 * 64 * 1024

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, max_request_size=settings.max_message_bytes,
                                enable_idempotence=True)
    await producer.start()
    try:
        for value, headers in records:
            await producer.send_and_wait(name, value, headers=headers)
    finally:
        await producer.stop()

    consumer = AIOKafkaConsumer(name, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                                enable_auto_commit=False, group_id=None)
    await consumer.start()
    try:
        reassembler, whole = Reassembler(), None
        for _ in records:
            record = await consumer.getone()
            whole = reassembler.feed(decode(record.value, record.headers, topic=name, offset=record.offset))
    finally:
        await consumer.stop()
    assert whole == env
