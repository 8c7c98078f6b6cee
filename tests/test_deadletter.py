"""Everything set aside also lands in a dead-letter topic of the Kafka it was read from.

A copy keeps the original value and headers and adds the reason (``dl-reason``, ``dl-error``) and
where it was read (``dl-topic``, ``dl-partition``, ``dl-offset``). Nothing of it is applied, and the
stream goes on with its genuine next seq. Writing the copy never holds up the stream: the queue is
bounded and what does not fit is counted lost (the reason stays in the log and in ``rejected``).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import ConsumerRecord
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from dc2dc.agents.destination import DestinationWorker
from dc2dc.pipeline.arango.http import ArangoHttp
from dc2dc.pipeline.deadletter import DeadLetter
from dc2dc.pipeline.source.feedback_reader import FeedbackReader
from dc2dc.topics.admin import ensure_topics
from dc2dc.topics.codec import encode
from dc2dc.topics.envelope import Envelope, Op
from dc2dc.topics.names import deadletter_topic, feedback_deadletter_topic, feedback_topic, shard_topic
from dc2dc.topics.signing import Signer, Verifier
from dest_helpers import all_docs, http, kafka_b, standin_b  # noqa: F401 (fixtures)
from test_dest_worker import Source, _at, _true, coll, config, eventually, source  # noqa: F401
from source_helpers import new_dc_id, wait_until


async def read_all(bootstrap: str, topic: str, n: int, timeout: float = 30.0) -> list[ConsumerRecord[bytes, bytes]]:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None)
    await consumer.start()
    got: list[ConsumerRecord[bytes, bytes]] = []
    try:
        async with asyncio.timeout(timeout):
            while len(got) < n:
                for records in (await consumer.getmany(timeout_ms=500)).values():
                    got.extend(records)
    finally:
        await consumer.stop()
    return got


def meta(record: ConsumerRecord[bytes, bytes]) -> dict[str, str]:
    return {k: v.decode() for k, v in record.headers if k.startswith("dl-")}


async def test_a_forged_shard_record_lands_in_the_dead_letter_topic_and_the_shard_goes_on_with_its_genuine_seq(
        http: ArangoHttp, source: Source) -> None:
    db = f"d{source.src}"
    key = Ed25519PrivateKey.generate()
    genuine = source.signer = Signer.for_key(key)
    await source.topics("s31")
    await source.structure(1, db, {"c": coll("c1", ["s31"])})
    topic = shard_topic(source.src, "s31")
    await source.insert("s31", "a")
    source.signer = Signer.for_key(Ed25519PrivateKey.generate())       # a key B does not trust
    await source.data("s31", Op.INSERT, seq=2, doc={"_key": "forged"})
    source.signer = genuine
    await source.data("s31", Op.INSERT, seq=2, doc={"_key": "b"})

    async with DestinationWorker(config(source), http, verifier=Verifier.of_keys([key.public_key()])) as worker:
        await eventually(lambda: _at(http, source, {"s31": 2}), "the genuine seq 2 applied")
        dead = await read_all(source.bootstrap, deadletter_topic(source.src, "B"), 1)
        await eventually(lambda: _true(worker.status()["deadletter"]["written"] == 1), "copy counted")
    assert sorted(await all_docs(http, db, "c")) == ["a", "b"]
    assert len(dead) == 1
    info = meta(dead[0])
    assert info["dl-reason"] == "signature" and "unknown key id" in info["dl-error"]
    assert (info["dl-topic"], info["dl-partition"], info["dl-offset"]) == (topic, "0", "1")
    assert b"forged" in dead[0].value
    assert ("seq", b"2") in dead[0].headers   # the original headers travel along


async def test_forged_feedback_lands_in_the_sources_feedback_dead_letter_topic(kafka_b: str, tmp_path: Path) -> None:
    src = new_dc_id()
    trusted = Ed25519PrivateKey.generate()
    value, headers = encode(Envelope(op=Op.RESYNC_REQUEST, src=src, seq=1,
                                     body={"dst": "B", "shard": "s1", "reason": "seq gap"}))
    seen: list[Envelope] = []
    reader = FeedbackReader(bootstrap=kafka_b, src=src, destinations=("B",), handle=seen.append,
                            verifier=Verifier.of_keys([trusted.public_key()]))
    await ensure_topics(kafka_b, [feedback_topic(src, "B")])
    producer = AIOKafkaProducer(bootstrap_servers=kafka_b)
    await producer.start()
    try:
        await producer.send_and_wait(feedback_topic(src, "B"), value, headers=headers)
        await producer.send_and_wait(feedback_topic(src, "B"), value,
                                     headers=Signer.for_key(trusted).sign(value, headers))
    finally:
        await producer.stop()
    task = asyncio.create_task(reader.run())
    try:
        await wait_until(lambda: len(seen) == 1 and reader.dead_letter.written == 1, what="one acted on, one copied")
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    dead = await read_all(kafka_b, feedback_deadletter_topic(src), 1)
    info = meta(dead[0])
    assert info["dl-reason"] == "signature" and "not signed" in info["dl-error"]
    assert (info["dl-topic"], info["dl-offset"]) == (feedback_topic(src, "B"), "0")
    assert dead[0].value == value


def test_a_full_dead_letter_queue_never_waits_it_counts_what_it_could_not_keep() -> None:
    dead_letter = DeadLetter("127.0.0.1:1", "dc2dc.A.B.deadletter", max_queued=2)   # never started
    record: Any = ConsumerRecord("dc2dc.A.shard.s1", 0, 7, 0, 0, None, b"v", None, 1, 1, [])
    for _ in range(3):
        dead_letter.put(record, "signature", "unknown key id")
    assert dead_letter.status() == {"topic": "dc2dc.A.B.deadletter", "written": 0, "lost": 1, "queued": 2}
