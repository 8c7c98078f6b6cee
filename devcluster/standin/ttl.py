"""TTL index expiry: a periodic sweep removes documents whose indexed time plus `expireAfter`
has passed, like ArangoDB's TTL thread (`--ttl.frequency`, 30 s by default). The removals are
ordinary writes: each sweep logs one write batch per shard with 2302 markers."""
from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import datetime

from .model import Cluster
from .writes import Writes

log = logging.getLogger("dc2dc.standin.ttl")
DEFAULT_FREQUENCY = 30.0


def _epoch(value: object) -> float | None:
    """Seconds since the epoch of a TTL attribute: a number, or an ISO 8601 date string."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
        except ValueError:
            return None
    return None


def sweep(cluster: Cluster, now: float | None = None) -> int:
    """Remove every expired document now; returns how many were removed."""
    now = time.time() if now is None else now
    removed = 0
    for db in list(cluster.databases.values()):
        for coll in list(db.collections.values()):
            ttl = [ix for ix in coll.indexes if ix["type"] == "ttl"]
            if not ttl:
                continue
            writes = Writes(cluster)
            for shard in coll.shards:
                if not cluster.servers[shard.leader].running:
                    continue
                for key, doc in list(shard.docs.items()):
                    for ix in ttl:
                        at = _epoch(doc.get(ix["fields"][0]))
                        if at is not None and at + ix["expireAfter"] <= now:
                            writes.delete(coll, shard, key, doc)
                            removed += 1
                            break
            writes.commit()
    return removed


class TtlSweeper:
    def __init__(self, cluster: Cluster, frequency: float = DEFAULT_FREQUENCY, on_change=None) -> None:  # type: ignore[no-untyped-def]
        self.cluster = cluster
        self.frequency = frequency
        self.on_change = on_change
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.frequency)
            if sweep(self.cluster) and self.on_change is not None:
                self.on_change()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
