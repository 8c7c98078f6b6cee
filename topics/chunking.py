"""Documents larger than one Kafka message: split into ordered chunks, reassembled before apply.

Size rule. Kafka's ``max.message.bytes`` (topic) / ``max.request.size`` (producer) limit the
whole record *batch*: value, key, headers and batch framing. ``ChunkLimits`` therefore keeps a
``headroom`` for everything but the value: each record value dc2dc produces is at most
``max_message_bytes - headroom`` bytes. The headers dc2dc sends (shard, seq, chunk, kid, sig)
take about 200 bytes and batch framing about 100, so the default 64 KiB headroom also covers a
Kafka key and any headers a deployment adds.

Split rule. The larger of ``doc`` and ``body`` (a document, or a structure snapshot of a big
cluster) is split; nothing else is. Its compact JSON text is cut into consecutive slices on
UTF-8 character boundaries; slice ``i`` of ``n`` travels as ``part`` with ``chunk=(i, n)`` and
``part_of`` naming the field, in an envelope that repeats every other field of the original
(same seq, key, rev, ...), so each chunk is a complete, readable message. A slice is sized so that, once escaped as a JSON string
(``"`` and ``\\`` double; orjson escapes nothing else in JSON text it wrote itself), the chunk's
value stays within the limit.

Reassembly rule (``Reassembler``, one per consumer of one or more shard streams, keyed by
``(src, shard)``). Chunks must arrive in order. While a document is incomplete:
a repeat of a chunk already held is a tolerated duplicate if identical (at-least-once
redelivery) and a ``ChunkError`` if different; a later chunk index (a gap), a different chunk
count, or any other seq is a ``ChunkError``. With nothing pending, a chunk with index > 0 of a
seq at or below the last complete one is the tail of a redelivered document and is dropped;
of a higher seq it means the first chunks are missing: ``ChunkError``. A reader that sets such
records aside calls ``abandon_before`` first, so a later seq ends an incomplete document instead
of failing too. After a consumer seeks,
call ``reset(src, shard, applied_seq)`` so the reassembler knows what was already applied.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import orjson

from dc2dc.topics.errors import ChunkError
from dc2dc.topics.codec import Headers, encode
from dc2dc.topics.envelope import Envelope

#: Default largest record batch: the topics' ``max.message.bytes`` and producers' ``max_request_size``.
MAX_MESSAGE_BYTES = 8 * 1024 * 1024
#: Default room left in a batch for everything but the record value.
HEADROOM_BYTES = 64 * 1024
_MIN_PART_BYTES = 1024
_SPLITTABLE = ("doc", "body")


@dataclass(frozen=True)
class ChunkLimits:
    """Largest Kafka message dc2dc writes; must equal the topics' ``max.message.bytes``."""

    max_message_bytes: int = MAX_MESSAGE_BYTES
    headroom: int = HEADROOM_BYTES

    def __post_init__(self) -> None:
        if self.max_value_bytes < 4 * _MIN_PART_BYTES:
            raise ValueError(
                f"max_message_bytes={self.max_message_bytes} leaves too little room after "
                f"headroom={self.headroom} for a message value"
            )

    @property
    def max_value_bytes(self) -> int:
        return self.max_message_bytes - self.headroom


def to_records(env: Envelope, limits: ChunkLimits = ChunkLimits()) -> list[tuple[bytes, Headers]]:
    """One record for ``env``, or its ordered chunks when its value would exceed the limit."""
    value, headers = encode(env)
    budget = limits.max_value_bytes
    if len(value) <= budget:
        return [(value, headers)]
    payloads = [(orjson.dumps(getattr(env, f)), f) for f in _SPLITTABLE if getattr(env, f) is not None]
    if not payloads or env.chunk is not None:
        raise ChunkError(
            f"{env.op.value} seq {env.seq} of {env.src}/{env.shard}: value of {len(value)} bytes "
            f"exceeds {budget} and only a doc or body can be split into chunks"
        )
    text, name = max(payloads, key=lambda p: len(p[0]))
    base = dataclasses.replace(env, **{name: None}, part_of=name)
    # Chunk numbers as large as the text's length bound the digits any real chunk header uses.
    shell, _ = encode(dataclasses.replace(base, chunk=(len(text), len(text) + 1), part=""))
    parts = _split_json_text(text, budget - len(shell))
    records = [
        encode(dataclasses.replace(base, chunk=(i, len(parts)), part=part))
        for i, part in enumerate(parts)
    ]
    largest = max(len(v) for v, _ in records)
    if largest > budget:  # would mean the escaping rule above is wrong: refuse, never truncate
        raise ChunkError(f"chunk of {largest} bytes exceeds {budget} for seq {env.seq}")
    return records


def _split_json_text(text: bytes, part_budget: int) -> list[str]:
    """Slices of UTF-8 ``text`` whose JSON-string escaping (body only) fits ``part_budget``."""
    if part_budget < _MIN_PART_BYTES:
        raise ChunkError(
            f"only {part_budget} bytes left for a chunk's part: the other fields of the "
            f"envelope are too large for the message limit"
        )
    parts: list[str] = []
    start, size = 0, len(text)
    while start < size:
        end = min(start + part_budget, size)
        escaped = end - start + text.count(b'"', start, end) + text.count(b"\\", start, end)
        # Dropping k bytes lowers the escaped size by at least k, so one step always suffices.
        end -= max(0, escaped - part_budget)
        while end < size and text[end] & 0xC0 == 0x80:  # never cut inside a UTF-8 sequence
            end -= 1
        parts.append(text[start:end].decode())
        start = end
    return parts


@dataclass
class _Pending:
    first: Envelope
    count: int
    parts: list[str] = field(default_factory=list)


class Reassembler:
    """Turns a stream of envelopes back into whole ones (see module docstring for the rules)."""

    def __init__(self) -> None:
        self._pending: dict[tuple[str, str | None], _Pending] = {}
        self._done: dict[tuple[str, str | None], int] = {}

    def reset(self, src: str, shard: str | None, applied_seq: int) -> None:
        """Forget partial chunks of this stream; ``applied_seq`` is where the consumer resumes."""
        self._pending.pop((src, shard), None)
        self._done[(src, shard)] = applied_seq

    def abandon_before(self, env: Envelope) -> int | None:
        """The seq of this stream's incomplete document if ``env`` comes after it, which is then forgotten.

        Chunks arrive in order, so a later seq means the missing chunks never will: without this,
        that document would make every later record of the stream a ``ChunkError``.
        """
        stream = (env.src, env.shard)
        pending = self._pending.get(stream)
        if pending is None or env.seq <= pending.first.seq:
            return None
        del self._pending[stream]
        return pending.first.seq

    def pending(self) -> dict[tuple[str, str | None], tuple[int, int, int]]:
        """``(src, shard) -> (seq, chunks received, chunk count)`` of incomplete documents."""
        return {k: (p.first.seq, len(p.parts), p.count) for k, p in self._pending.items()}

    def feed(self, env: Envelope) -> Envelope | None:
        """The complete envelope this message finishes, or None while a document is incomplete."""
        stream = (env.src, env.shard)
        pending = self._pending.get(stream)
        if pending is not None and env.seq != pending.first.seq:
            have, n = len(pending.parts), pending.count
            raise ChunkError(
                f"{env.src}/{env.shard}: seq {env.seq} arrived while seq {pending.first.seq} "
                f"had {have} of {n} chunks; chunks {have}..{n - 1} are missing"
            )
        if env.chunk is None:
            if pending is not None:
                raise ChunkError(
                    f"{env.src}/{env.shard}: unchunked message with seq {env.seq} while that seq "
                    f"is being received in chunks"
                )
            self._done[stream] = max(env.seq, self._done.get(stream, 0))
            return env
        index, count = env.chunk
        if pending is None:
            if index == 0:
                if env.part_of not in _SPLITTABLE:
                    raise ChunkError(
                        f"{env.src}/{env.shard} seq {env.seq}: chunk names part_of={env.part_of!r}, "
                        f"not one of {_SPLITTABLE}"
                    )
                pending = self._pending[stream] = _Pending(env, count)
            elif env.seq <= self._done.get(stream, 0):
                return None  # tail of a document already complete: a redelivery
            else:
                raise ChunkError(
                    f"{env.src}/{env.shard}: chunk {index}/{count} of seq {env.seq} arrived "
                    f"without chunks 0..{index - 1}"
                )
        return self._add(stream, pending, env, index, count)

    def _add(
        self, stream: tuple[str, str | None], pending: _Pending, env: Envelope, index: int, count: int
    ) -> Envelope | None:
        first = pending.first
        where = f"{env.src}/{env.shard} seq {env.seq}"
        if count != pending.count or (env.op, env.key, env.rev, env.part_of) != (
            first.op, first.key, first.rev, first.part_of
        ):
            raise ChunkError(f"{where}: chunk {index}/{count} does not belong to the chunks received")
        if env.part is None:
            raise ChunkError(f"{where}: chunk {index}/{count} has no part")
        have = len(pending.parts)
        if index < have:
            if pending.parts[index] != env.part:
                raise ChunkError(f"{where}: chunk {index}/{count} redelivered with other content")
            return None
        if index > have:
            raise ChunkError(f"{where}: chunk {index}/{count} arrived, chunks {have}..{index - 1} missing")
        pending.parts.append(env.part)
        if len(pending.parts) < count:
            return None
        del self._pending[stream]
        self._done[stream] = max(env.seq, self._done.get(stream, 0))
        try:
            payload = orjson.loads("".join(pending.parts))
        except orjson.JSONDecodeError as e:
            raise ChunkError(f"{where}: reassembled {first.part_of} is not JSON: {e}") from None
        if type(payload) is not dict:
            raise ChunkError(f"{where}: reassembled {first.part_of} is not a JSON object")
        return dataclasses.replace(
            first, **{first.part_of: payload}, chunk=None, part=None, part_of=None
        )
