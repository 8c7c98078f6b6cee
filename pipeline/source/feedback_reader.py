"""Reads the feedback topics a source DC gets back from its destinations (mirrored by MM2).

Feedback only ever triggers work (a resync) or fills the status, so it is read at least once
with a consumer group of its own (``dc2dc-src.<src>.feedback``; offsets committed after each
batch is handled): a request that arrived while no source worker ran is still acted on, and a
redelivered one costs one more resync at most.

With a verifier, a record that is unsigned or badly signed is refused loudly and counted, never
acted on; it does not stop the worker either (a forged record must not be able to halt
replication). A record that is authentic but not a valid envelope is an error that stops it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from aiokafka import AIOKafkaConsumer

from dc2dc.pipeline.errors import VerificationError
from dc2dc.topics.codec import decode
from dc2dc.topics.envelope import Envelope
from dc2dc.topics.names import feedback_topic
from dc2dc.topics.signing import Verifier

log = logging.getLogger(__name__)


class FeedbackReader:
    """Hands every authentic feedback envelope of ``src``'s destinations to ``handle``."""

    def __init__(self, *, bootstrap: str, src: str, destinations: tuple[str, ...],
                 handle: Callable[[Envelope], None], verifier: Verifier | None = None) -> None:
        self._bootstrap = bootstrap
        self._src = src
        self._topics = [feedback_topic(src, dst) for dst in destinations]
        self._handle = handle
        self._verifier = verifier
        self.rejected = 0

    async def run(self) -> None:
        """Read until cancelled."""
        consumer = AIOKafkaConsumer(*self._topics, bootstrap_servers=self._bootstrap,
                                    group_id=f"dc2dc-src.{self._src}.feedback", enable_auto_commit=False,
                                    auto_offset_reset="earliest", isolation_level="read_committed")
        await consumer.start()
        try:
            while True:
                batches = await consumer.getmany(timeout_ms=1000)
                for tp, records in batches.items():
                    for record in records:
                        headers = list(record.headers)
                        if self._authentic(record.value, headers, f"{tp.topic}@{record.offset}"):
                            self._handle(decode(record.value, headers, topic=tp.topic, offset=record.offset))
                if batches:
                    await consumer.commit()
        finally:
            await consumer.stop()

    def _authentic(self, value: bytes | None, headers: list[tuple[str, bytes]], where: str) -> bool:
        if self._verifier is None:
            return True
        try:
            self._verifier.verify(value, headers, where=where)
        except VerificationError as e:
            self.rejected += 1
            log.error("feedback record refused: %s", e)
            return False
        return True
