"""Reads the feedback topics a source DC gets back from its destinations (mirrored by MM2).

Feedback only ever triggers work (a resync) or fills the status, so it is read at least once
with a consumer group of its own (``topics.names.feedback_group``; offsets committed after each
batch is handled): a request that arrived while no source worker ran is still acted on, and a
redelivered one costs one more resync at most.

With a verifier, a record that is unsigned or badly signed is refused loudly and counted, never
acted on. A record that is not a valid envelope is set aside the same way (``pipeline.quarantine``),
and a copy of each goes to ``topics.names.feedback_deadletter_topic`` in the source DC's Kafka.
Neither stops the worker: its offset is committed with the batch, where stopping would leave it
uncommitted and meet it again on every restart (a crash loop a forger could cause at will).
"""

from __future__ import annotations

from collections.abc import Callable

from aiokafka import AIOKafkaConsumer
from aiokafka.structs import ConsumerRecord

from dc2dc.pipeline.deadletter import DeadLetter
from dc2dc.pipeline.quarantine import RECORD_ERRORS, Quarantine
from dc2dc.topics.admin import TopicSettings
from dc2dc.topics.codec import decode
from dc2dc.topics.envelope import Envelope
from dc2dc.topics.names import feedback_deadletter_topic, feedback_group, feedback_topic
from dc2dc.topics.signing import Verifier

class FeedbackReader:
    """Hands every authentic feedback envelope of ``src``'s destinations to ``handle``."""

    def __init__(self, *, bootstrap: str, src: str, destinations: tuple[str, ...],
                 handle: Callable[[Envelope], None], verifier: Verifier | None = None,
                 topic_settings: TopicSettings = TopicSettings()) -> None:
        self._bootstrap = bootstrap
        self._src = src
        self._topics = [feedback_topic(src, dst) for dst in destinations]
        self._handle = handle
        self._verifier = verifier
        self.dead_letter = DeadLetter(bootstrap, feedback_deadletter_topic(src), topic_settings)
        self.quarantine = Quarantine(dead_letter=self.dead_letter)

    async def run(self) -> None:
        """Read until cancelled."""
        await self.dead_letter.start()
        try:
            await self._read_all()
        finally:
            await self.dead_letter.stop()

    async def _read_all(self) -> None:
        consumer = AIOKafkaConsumer(*self._topics, bootstrap_servers=self._bootstrap,
                                    group_id=feedback_group(self._src), enable_auto_commit=False,
                                    auto_offset_reset="earliest", isolation_level="read_committed")
        await consumer.start()
        try:
            while True:
                batches = await consumer.getmany(timeout_ms=1000)
                for records in batches.values():
                    for record in records:
                        try:
                            env = self._read(record)
                        except RECORD_ERRORS as exc:
                            self.quarantine.reject(record, exc)
                            continue
                        self._handle(env)
                if batches:
                    await consumer.commit()
        finally:
            await consumer.stop()

    def _read(self, record: ConsumerRecord[bytes, bytes]) -> Envelope:
        headers = list(record.headers)
        if self._verifier is not None:
            self._verifier.verify(record.value, headers, where=f"{record.topic}@{record.offset}")
        return decode(record.value, headers, topic=record.topic, offset=record.offset)
