"""Records set aside because they fail to verify, decode or reassemble ("poison records").

Such a record is not a change of any stream: it carries no trustworthy seq (an unverified seq
could be a forger's), so it consumes none. Dropping the record is therefore never a skip: the
stream goes on waiting for its genuine next seq, and if that one was the record that got set
aside, the gap the next genuine record shows takes the resync path like any other gap. What a
reader must never do is stop on it: it would meet the same record again on every restart.

Every rejection is logged with topic, partition, offset and reason, and counted per
``(topic, reason)`` for ``status()`` and the ``dc2dc_records_rejected_total`` metric; ``reject`` is
the one place the dead-letter topic (``pipeline.deadletter``) is written to.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from aiokafka.structs import ConsumerRecord

from dc2dc.pipeline.deadletter import DeadLetter
from dc2dc.topics.errors import ChunkError, Dc2dcError, DecodeError, VerificationError

log = logging.getLogger(__name__)

_REASONS: dict[type[Dc2dcError], str] = {VerificationError: "signature", DecodeError: "decode", ChunkError: "chunk"}
#: What one bad record raises; any other error is not the record's fault and is handled as before.
RECORD_ERRORS = tuple(_REASONS)


@dataclass
class Quarantine:
    """Counts and logs rejected records of one reader (shard, control or feedback topics)."""

    counts: dict[tuple[str, str], int] = field(default_factory=dict)
    dead_letter: DeadLetter | None = None

    def reject(self, record: ConsumerRecord[Any, Any], error: Dc2dcError) -> None:
        reason = next(r for cls, r in _REASONS.items() if isinstance(error, cls))
        key = (record.topic, reason)
        self.counts[key] = self.counts.get(key, 0) + 1
        log.error("record %s[%d]@%d set aside (%s): %s", record.topic, record.partition, record.offset,
                  reason, error)
        if self.dead_letter is not None:
            self.dead_letter.put(record, reason, str(error))

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def status(self) -> list[dict[str, Any]]:
        return [{"topic": topic, "reason": reason, "count": n} for (topic, reason), n in sorted(self.counts.items())]
