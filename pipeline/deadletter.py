"""The dead-letter topic: every record set aside (``pipeline.quarantine``), kept for inspection.

A copy goes to a topic in the Kafka it was read from (``topics.names.deadletter_topic`` for the
destination's shard and control topics, ``feedback_deadletter_topic`` for the source's feedback),
with the original value and headers plus ``dl-reason`` (decode, signature, chunk), ``dl-error``
(what exactly failed, e.g. "unknown key id"), ``dl-topic``, ``dl-partition`` and ``dl-offset``.

Writing it must never hold up the stream that found the record: ``put`` only queues (bounded),
and one background task produces. A record that cannot be queued or written is counted in
``lost`` and logged; its reason is not lost, ``Quarantine`` logged and counted it already.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.structs import ConsumerRecord

from dc2dc.topics.admin import TopicSettings, ensure_topics

log = logging.getLogger(__name__)

H_REASON, H_ERROR, H_TOPIC, H_PARTITION, H_OFFSET = "dl-reason", "dl-error", "dl-topic", "dl-partition", "dl-offset"
_STOP_FLUSH_S = 5.0   # how long stop() waits for queued copies before counting them lost


class DeadLetter:
    """The producer of one dead-letter topic; ``start``/``stop`` like every long-lived component."""

    def __init__(self, bootstrap: str, topic: str, settings: TopicSettings = TopicSettings(),
                 max_queued: int = 1000) -> None:
        self.topic = topic
        self.written = 0
        self.lost = 0
        self._bootstrap = bootstrap
        self._settings = settings
        self._queue: asyncio.Queue[tuple[bytes | None, list[tuple[str, bytes]]]] = asyncio.Queue(max_queued)
        self._producer: AIOKafkaProducer | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await ensure_topics(self._bootstrap, [self.topic], self._settings)
        self._producer = AIOKafkaProducer(bootstrap_servers=self._bootstrap)
        await self._producer.start()
        self._task = asyncio.create_task(self._run(self._producer), name=f"dc2dc-deadletter-{self.topic}")

    async def stop(self) -> None:
        if self._task is not None:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._queue.join(), _STOP_FLUSH_S)
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None
        self._count_lost(self._queue.qsize(), "not written before stop")
        self._queue = asyncio.Queue(self._queue.maxsize)

    def put(self, record: ConsumerRecord[Any, Any], reason: str, error: str) -> None:
        """Queue a copy of ``record``; never waits."""
        headers = [*(record.headers or ()),
                   (H_REASON, reason.encode()), (H_ERROR, error.encode("utf-8", "replace")),
                   (H_TOPIC, record.topic.encode()), (H_PARTITION, str(record.partition).encode()),
                   (H_OFFSET, str(record.offset).encode())]
        try:
            self._queue.put_nowait((record.value, headers))
        except asyncio.QueueFull:
            self._count_lost(1, f"queue full ({record.topic}[{record.partition}]@{record.offset})")

    async def _run(self, producer: AIOKafkaProducer) -> None:
        while True:
            value, headers = await self._queue.get()
            try:
                await producer.send_and_wait(self.topic, value, headers=headers)
                self.written += 1
            except Exception as exc:   # the stream goes on; the copy is counted lost
                self._count_lost(1, repr(exc))
            finally:
                self._queue.task_done()

    def _count_lost(self, n: int, why: str) -> None:
        if n:
            self.lost += n
            log.error("%d record(s) not written to dead-letter topic %s: %s", n, self.topic, why)

    def status(self) -> dict[str, Any]:
        return {"topic": self.topic, "written": self.written, "lost": self.lost, "queued": self._queue.qsize()}
