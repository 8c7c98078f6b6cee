"""What a destination reports it has applied of one shard, as sent back on the feedback topic.

The destination builds it from its stored :class:`~dc2dc.pipeline.destination.positions.Position`,
the source parses the ``applied`` feedback into it. In memory the tick is an ``int`` like every
other tick; on the wire it stays the string ArangoDB writes ticks as.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class AppliedPosition:
    seq: int
    tick: int
    ts: int

    def to_wire(self) -> dict[str, Any]:
        return {"seq": self.seq, "tick": str(self.tick), "ts": self.ts}

    @classmethod
    def from_wire(cls, doc: Mapping[str, Any]) -> AppliedPosition:
        """Raises ValueError/TypeError/KeyError on a malformed entry."""
        return cls(seq=int(doc["seq"]), tick=int(doc["tick"]), ts=int(doc["ts"]))


def applied_from_wire(positions: Mapping[str, Any]) -> dict[str, AppliedPosition]:
    """Shard -> applied position; an entry that does not parse is left out (feedback is advisory)."""
    out: dict[str, AppliedPosition] = {}
    for shard, doc in positions.items():
        try:
            out[str(shard)] = AppliedPosition.from_wire(doc)
        except (ValueError, TypeError, KeyError):
            continue
    return out
