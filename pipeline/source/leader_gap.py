"""WAL entries of a live shard read while the coordinator names no usable leader for it.

During a failover the coordinator may report no leader for a shard, or one it lists nowhere (a
resigned leader). The server the shard streams from may still lead it — then its entries must
go out once it is named again — or may have become a follower, and then the new leader's
resync covers them. So they are held rather than sent or dropped, up to a bound; past the bound
they are let go and the shard is resynced once a leader is known. Either way no heartbeat of the
shard claims a tick at or above the first entry held or let go.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dc2dc.pipeline.source.wal_markers import WalUnit


@dataclass
class LeaderGap:
    """What one shard's tail has read since its leader became unknown (see module docstring)."""

    limit: int
    units: list[tuple[WalUnit, list[dict[str, Any]]]] = field(default_factory=list)
    first_tick: int | None = None    # where the first unit held or let go begins: heartbeats stay below
    overflowed: bool = False         # entries were let go: only a resync can cover them

    def hold(self, unit: WalUnit, markers: list[dict[str, Any]]) -> None:
        if self.first_tick is None:
            self.first_tick = unit.begin_tick
        if self.overflowed or (self.units and unit.tick <= self.units[-1][0].tick):
            return  # a restarted tail reads again what is held already
        if len(self.units) >= self.limit:
            self.overflowed, self.units = True, []
            return
        self.units.append((unit, markers))

    def heartbeat_tick(self, safe: int) -> int:
        """The highest tick a heartbeat may claim while this gap is open."""
        return safe if self.first_tick is None else min(safe, self.first_tick - 1)
