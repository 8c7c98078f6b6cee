"""The base of dc2dc's fenced transactional writers: fence first, then read the topic's last record.

A topic written by the source (a shard topic, the control topic) has exactly one writer, enforced
by Kafka: its producer's ``transactional_id`` names the topic's owner, and starting a producer
with that id (InitProducerId) fences every older one, so a zombie worker can no longer commit.
Only *after* fencing is the last committed record read back (``read_committed``): nothing can be
committed behind our back any more, so that record is where the writer resumes.
"""

from __future__ import annotations

from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from dc2dc.topics.codec import Headers, decode
from dc2dc.topics.envelope import Envelope


async def read_last_committed(bootstrap: str, topic: str, *, consumer_options: dict | None = None) -> Envelope | None:
    """The last committed message of a 1-partition topic, or None when it has none."""
    tp = TopicPartition(topic, 0)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, isolation_level="read_committed",
                                enable_auto_commit=False, group_id=None, **(consumer_options or {}))
    await consumer.start()
    try:
        consumer.assign([tp])
        end = (await consumer.end_offsets([tp]))[tp]
        beginning = (await consumer.beginning_offsets([tp]))[tp]
        window = 8
        while True:
            start = max(beginning, end - window)
            consumer.seek(tp, start)
            last = None
            while await consumer.position(tp) < end:
                batch = await consumer.getmany(tp, timeout_ms=1000)
                for record in batch.get(tp, []):
                    if record.offset < end:
                        last = record
            if last is not None:
                return decode(last.value, list(last.headers), topic=topic, offset=last.offset)
            if start <= beginning:
                return None
            window *= 8  # only markers / aborted batches in the window: look further back
    finally:
        await consumer.stop()


class FencedWriter:
    """A transactional producer that owns ``topic`` (see module docstring)."""

    def __init__(self, *, bootstrap: str, topic: str, transactional_id: str, max_request_size: int,
                 producer_options: dict[str, Any] | None = None) -> None:
        self.topic = topic
        self.transactional_id = transactional_id
        self._bootstrap = bootstrap
        self._max_request_size = max_request_size
        self._options = producer_options or {}
        self._producer: AIOKafkaProducer | None = None

    async def _fence(self) -> Envelope | None:
        """Start the producer (fencing older owners), then return the topic's last committed record."""
        producer = AIOKafkaProducer(bootstrap_servers=self._bootstrap, transactional_id=self.transactional_id,
                                    enable_idempotence=True, acks="all",
                                    max_request_size=self._max_request_size, **self._options)
        await producer.start()  # InitProducerId: from here on, no zombie can commit to this topic
        self._producer = producer
        return await read_last_committed(self._bootstrap, self.topic)

    async def _transaction(self, records: list[tuple[bytes, Headers]]) -> None:
        """Write ``records`` to the topic's one partition as one Kafka transaction."""
        assert self._producer is not None, "a writer sends only after _fence"
        async with self._producer.transaction():
            for value, headers in records:
                await self._producer.send(self.topic, value=value, headers=headers, partition=0)

    async def stop(self) -> None:
        if self._producer is not None:
            producer, self._producer = self._producer, None
            await producer.stop()
