"""Poison records on the source's feedback topics: set aside and committed past, never a crash loop.

A malformed feedback record (unsigned, or authentic but no envelope) is refused with its reason
and its offset is committed with the rest of its batch: a restarted source must not read it
again and stop again. The genuine records around it are still acted on.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from dc2dc.agents.source import SourceComponent
from dc2dc.pipeline.arango.http import ArangoHttp
from dc2dc.topics.codec import encode
from dc2dc.topics.envelope import Envelope, Op
from dc2dc.topics.names import feedback_topic
from dc2dc.topics.signing import Signer, Verifier, generate_keypair, load_private_key, load_public_key
from source_helpers import (  # noqa: F401 - fixtures
    arango,
    bootstrap,
    caught_up,
    create_collection,
    new_dc_id,
    source_settings,
    standin,
    wait_until,
)


async def committed(bootstrap: str, group: str, tp: TopicPartition) -> int | None:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        return await consumer.committed(tp)
    finally:
        await consumer.stop()


async def test_malformed_feedback_records_are_set_aside_committed_past_and_genuine_ones_acted_on(
        standin: dict[str, Any], arango: ArangoHttp, bootstrap: str, tmp_path: Path) -> None:
    await arango.request("POST", "/_api/database", json={"name": "poison"})
    shards = await create_collection(arango, "poison", "c", shards=1)
    private, public = generate_keypair(tmp_path, "B")
    signer = Signer("B", load_private_key(private))
    src = new_dc_id()
    topic = feedback_topic(src, "B")
    settings = source_settings(standin, bootstrap, src, destinations=("B",),
                               feedback_verifier=Verifier({"B": load_public_key(public)}))
    request = Envelope(op=Op.RESYNC_REQUEST, src=src, seq=1, body={"dst": "B", "shard": shards[0], "reason": "seq gap"})
    value, headers = encode(request)
    async with SourceComponent(settings) as source:
        await caught_up(source, arango, shards)
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
        await producer.start()
        try:
            await producer.send_and_wait(topic, b"\x00 garbage")
            await producer.send_and_wait(topic, b'{"v": 1}', headers=signer.sign(b'{"v": 1}', []))
            await producer.send_and_wait(topic, value, headers=signer.sign(value, headers))
        finally:
            await producer.stop()
        await wait_until(lambda: source.stats["resync_gap"] == 1, what="the genuine request acted on")
        assert source._failure is None
        rejected = {(r["topic"], r["reason"]): r["count"] for r in source.status()["rejected"]}
        assert rejected == {(topic, "signature"): 1, (topic, "decode"): 1}
        await wait_until(lambda: committed(bootstrap, f"dc2dc-src.{src}.feedback", TopicPartition(topic, 0)),
                         what="the feedback offsets committed")
        assert await committed(bootstrap, f"dc2dc-src.{src}.feedback", TopicPartition(topic, 0)) == 3
