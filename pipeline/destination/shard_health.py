"""How each shard stream of the destination is doing, kept in the destination ArangoDB for ``dc2dc status``.

A position says how far a shard got; it cannot say that the shard stopped there. A stopped shard's
position looks like a shard that is merely behind, so ``dc2dc status`` would show "behind" (or
"in sync", once the source goes quiet) for a stream that will never move again. The destination
worker therefore records a shard's health next to its position whenever it changes: one document
per stream in ``_system/_dc2dc_positions``, ``_key = "<src>__health__<shard>"``. Its field is
``health_of`` rather than ``shard`` so position reads never mistake it for a position.
"""

from __future__ import annotations

import enum
import time
from dataclasses import dataclass

from dc2dc.pipeline.arango import errno
from dc2dc.pipeline.arango.http import ArangoHttp
from dc2dc.pipeline.arango.query import query
from dc2dc.pipeline.destination.document_apply import check_items
from dc2dc.pipeline.destination.positions import COLLECTION, SYSTEM_DB, doc_key
from dc2dc.pipeline.errors import ArangoError


class HealthState(str, enum.Enum):
    APPLYING = "applying"                     # healthy: records are applied as they come
    WAITING_FOR_RESYNC = "waiting_for_resync"  # a seq gap: records are held back until the resync begins
    STOPPED = "stopped"                       # an error a retry cannot fix: nothing is applied
    FAILED = "failed"                         # the retry budget ran out: nothing is applied


@dataclass(frozen=True)
class ShardHealth:
    src: str
    shard: str
    state: HealthState
    reason: str = ""
    since_ms: int = 0

    @property
    def healthy(self) -> bool:
        return self.state is HealthState.APPLYING


def health_key(src: str, shard: str) -> str:
    return doc_key(src, f"health__{shard}")


class HealthStore:
    """Read and write the health of the shard streams from one source DC."""

    def __init__(self, http: ArangoHttp, src: str) -> None:
        self._http = http
        self.src = src

    async def save(self, shard: str, state: HealthState, reason: str = "") -> ShardHealth:
        health = ShardHealth(self.src, shard, state, reason, int(time.time() * 1000))
        resp = await self._http.request(
            "POST", f"/_api/document/{COLLECTION}", db=SYSTEM_DB, params={"overwriteMode": "replace"},
            json=[{"_key": health_key(self.src, shard), "src": self.src, "health_of": shard,
                   "state": state.value, "reason": reason, "since_ms": health.since_ms}])
        check_items(resp, f"storing the health of shard {shard} in {SYSTEM_DB}/{COLLECTION}")
        return health

    async def load(self) -> dict[str, ShardHealth]:
        """The recorded health of every shard of this source that has one, by shard id."""
        out: dict[str, ShardHealth] = {}
        try:
            async for doc in query(self._http, "FOR d IN @@c FILTER d.src == @src AND d.health_of != null RETURN d",
                                   db=SYSTEM_DB, bind_vars={"@c": COLLECTION, "src": self.src}):
                out[doc["health_of"]] = ShardHealth(self.src, doc["health_of"], HealthState(doc["state"]),
                                                    doc.get("reason", ""), int(doc.get("since_ms", 0)))
        except ArangoError as exc:
            if exc.error_num == errno.ARANGO_DATA_SOURCE_NOT_FOUND:
                return {}   # no destination worker has run here yet
            raise
        return out
