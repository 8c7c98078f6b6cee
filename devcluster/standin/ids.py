"""Identifiers: hybrid-logical-clock revisions in ArangoDB's `_rev` encoding, and id counters.

ArangoDB encodes a 64-bit HLC value (milliseconds << 20 | counter) big-endian in a base-64
alphabet that sorts like the numbers it encodes, giving 11-character strings like `_hV2m3yW---`.
"""
from __future__ import annotations

import time

_ALPHABET = "-_ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
_DECODE = {c: i for i, c in enumerate(_ALPHABET)}


def encode_rev(value: int) -> str:
    if value <= 0:
        return ""
    out = []
    while value > 0:
        out.append(_ALPHABET[value & 0x3F])
        value >>= 6
    return "".join(reversed(out))


def decode_rev(text: str) -> int:
    value = 0
    for ch in text:
        digit = _DECODE.get(ch)
        if digit is None:
            raise ValueError(f"invalid revision {text!r}")
        value = (value << 6) | digit
    return value


class HybridClock:
    """Strictly increasing HLC values; seeded from a persisted value so restarts never go back."""

    def __init__(self, last: int = 0) -> None:
        self.last = last

    def next(self) -> int:
        now = int(time.time() * 1000) << 20
        self.last = now if now > self.last else self.last + 1
        return self.last

    def witness(self, value: int) -> None:
        """Keep generated revisions above restored ones (isRestore), as ArangoDB's HLC does."""
        if value > self.last:
            self.last = value

    def next_rev(self) -> str:
        return encode_rev(self.next())


class Counter:
    """A monotonically increasing id source (collection ids, shard ids, transaction ids)."""

    def __init__(self, last: int) -> None:
        self.last = last

    def next(self, step: int = 1) -> int:
        self.last += step
        return self.last
