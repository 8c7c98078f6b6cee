"""What the destination tells the source, on ``dc2dc.<src>.feedback.<dst>`` (mirrored back to A).

Applied positions go periodically, for the source's status; resync requests go when a shard
shows a gap. Feedback is advisory: a lost round is repeated by the next one. With a signer (the
destination DC's own key) every message is signed, so the source acts on none a forger wrote.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from aiokafka import AIOKafkaProducer

from dc2dc.agents.destination.clients import close
from dc2dc.agents.destination.config import DestinationConfig
from dc2dc.pipeline.applied import AppliedPosition
from dc2dc.pipeline.destination.positions import Position
from dc2dc.topics import codec
from dc2dc.topics.admin import ensure_topics
from dc2dc.topics.envelope import Envelope, Op
from dc2dc.topics.names import feedback_topic
from dc2dc.topics.signing import Signer

log = logging.getLogger(__name__)


class Feedback:
    """The feedback topic's producer; ``start``/``stop`` like every long-lived component."""

    def __init__(self, config: DestinationConfig, signer: Signer | None = None) -> None:
        self._config = config
        self._signer = signer
        self._topic = feedback_topic(config.src, config.dst)
        self._producer: AIOKafkaProducer | None = None
        self._seq = int(time.time() * 1000)

    async def start(self) -> None:
        cfg = self._config
        await ensure_topics(cfg.bootstrap, [self._topic], cfg.topic_settings)
        self._producer = AIOKafkaProducer(bootstrap_servers=cfg.bootstrap, enable_idempotence=True)
        await self._producer.start()

    async def stop(self) -> None:
        if self._producer is not None:
            await close(self._producer)
        self._producer = None

    async def send(self, op: Op, body: dict[str, Any]) -> None:
        producer = self._producer
        if producer is None:
            return
        self._seq += 1
        env = Envelope(op=op, src=self._config.src, seq=self._seq, ts=int(time.time() * 1000), body=body)
        value, headers = codec.encode(env)
        if self._signer is not None:
            headers = self._signer.sign(value, headers)
        await producer.send_and_wait(self._topic, value, headers=headers)

    async def request_resync(self, shard: str, reason: str) -> None:
        await self.send(Op.RESYNC_REQUEST, {"dst": self._config.dst, "shard": shard, "reason": reason})

    async def report_positions(self, positions: Callable[[], dict[str, Position]],
                               active: Callable[[], bool]) -> None:
        """Send the applied positions every ``feedback_interval_s`` while this worker is active."""
        while True:
            await asyncio.sleep(self._config.feedback_interval_s)
            applied = {s: AppliedPosition(p.seq, p.tick, p.ts).to_wire() for s, p in positions().items()}
            if applied and active():
                try:
                    await self.send(Op.APPLIED, {"dst": self._config.dst, "positions": applied})
                except Exception as exc:   # feedback is advisory; the next round repeats it
                    log.warning("feedback not sent: %s", exc)
