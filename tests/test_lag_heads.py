"""`dc2dc status` reads each shard topic's newest records itself: a poison record among them is not its head."""

from __future__ import annotations

from typing import Any

from aiokafka import AIOKafkaProducer

from dc2dc.pipeline.ops.lag import read_heads
from dc2dc.topics import codec
from dc2dc.topics.admin import TopicSettings, ensure_topics
from dc2dc.topics.envelope import Envelope, Op
from dc2dc.topics.names import shard_topic
from source_helpers import new_dc_id


async def test_an_undecodable_record_in_a_shard_topic_is_passed_over_not_a_crash(kafka_two_dc: Any) -> None:
    src, bootstrap = new_dc_id(), kafka_two_dc.bootstrap("A")
    await ensure_topics(bootstrap, [shard_topic(src, "s1")], TopicSettings())
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for seq, op in ((1, Op.INSERT), (2, Op.HEARTBEAT)):
            value, headers = codec.encode(Envelope(op=op, src=src, seq=seq, tick=str(10 * seq), key="k", doc={"_key": "k"}))
            await producer.send_and_wait(shard_topic(src, "s1"), value, headers=headers)
        await producer.send_and_wait(shard_topic(src, "s1"), b"\x00 not a message")
    finally:
        await producer.stop()
    head = (await read_heads(bootstrap, src))["s1"]
    assert (head.seq, head.change_seq) == (2, 1)
