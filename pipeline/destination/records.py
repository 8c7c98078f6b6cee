"""A Kafka record of a flow's topic back into an envelope: verified first, then decoded."""

from __future__ import annotations

from aiokafka.structs import ConsumerRecord

from dc2dc.topics import codec
from dc2dc.topics.envelope import Envelope
from dc2dc.topics.signing import Verifier


def decode_record(record: ConsumerRecord, verifier: Verifier | None, shard: str | None) -> Envelope:
    """The record's envelope; raises one of ``quarantine.RECORD_ERRORS`` for a record never to apply.

    ``shard`` is the shard the record's topic belongs to (None on the control topic): a signed
    record of another shard's stream is refused, so it cannot be replayed into this one.
    """
    headers = list(record.headers or ())
    where = f"{record.topic}@{record.offset}"
    if verifier is not None:
        verifier.verify(record.value, headers, expected_shard=shard, where=where)
    return codec.decode(record.value, headers, topic=record.topic, offset=record.offset)
