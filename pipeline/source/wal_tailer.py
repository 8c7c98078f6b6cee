"""Tail ONE server's write-ahead log (``GET /_api/wal/tail``), gap-free, with adaptive polling.

The rules (spec arangodb-api.md section 0, items 3-7):

* ``from`` is exclusive. After a response with markers, the next ``from`` is the
  ``x-arango-replication-lastincluded`` header. After an empty one whose ``lastscanned`` is
  ahead, ``from`` moves to ``lastscanned - 1`` (what ArangoDB's own syncer does: filtered
  batches are not scanned again and again). ``from`` never goes back and never becomes 0.
* ``lastScanned`` (the previous response's header, 0 at first) is always sent, so the server
  may split a huge write batch over several responses; the consumer (``UnitAssembler``) keeps
  a transaction open across chunks.
* ``x-arango-replication-checkmore: true`` -> ask again at once; otherwise wait, from
  ``idle_min`` doubling up to ``idle_max`` while nothing comes. ArangoDB sets checkmore only
  with markers (lastincluded > 0 and below lasttick), so an answer that says "more" but neither
  brought markers nor moved the position is taken as idle, never as a reason to spin.
* ``lastscanned`` may lie *below* ``from``: it is the start of the write batch the scan began
  in (an idle 3.12 server answers from-1, 3.11 from-3), and ``from`` never moves back for it.
  After markers of dropped collections were filtered out, it is the end of the batches read.
* ``x-arango-replication-frompresent: false`` means the WAL no longer reaches back to ``from``:
  changes were purged. That raises ``PositionLost``; the caller resyncs the affected shards.
  So does a server whose newest tick is below ``from`` (its WAL was reset). Nothing is ever
  skipped silently.
* The tailer registers with a stable ``syncerId`` so the server retains WAL for it.

``position`` is the tick up to which every marker has been handed out; the consumer advances
it only after it has durably processed a chunk (``commit(chunk)``), so a failure between
fetching and producing re-reads the chunk.
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass
from typing import Any

from dc2dc.pipeline.arango.http import ArangoHttp
from dc2dc.pipeline.errors import Dc2dcError

H_LAST_INCLUDED = "x-arango-replication-lastincluded"
H_LAST_SCANNED = "x-arango-replication-lastscanned"
H_LAST_TICK = "x-arango-replication-lasttick"
H_CHECK_MORE = "x-arango-replication-checkmore"
H_FROM_PRESENT = "x-arango-replication-frompresent"


class PositionLost(Dc2dcError):
    """The server's WAL no longer holds the tick dc2dc needs to resume from: resync, never skip."""

    def __init__(self, server: str, from_tick: int) -> None:
        super().__init__(f"WAL of server {server} no longer reaches back to tick {from_tick}", retriable=False)
        self.server = server
        self.from_tick = from_tick


@dataclass
class TailChunk:
    """One tail response."""

    markers: list[dict[str, Any]]
    last_included: int
    last_scanned: int
    last_tick: int
    check_more: bool


def syncer_id(src: str, server: str) -> int:
    """A stable positive id under which the server tracks this tailer (and retains its WAL)."""
    return int.from_bytes(hashlib.blake2b(f"dc2dc/{src}/{server}".encode(), digest_size=6).digest(), "big") or 1


def _int_header(headers: Any, name: str) -> int:
    value = headers.get(name, "0") or "0"
    return int(value)


class WalTailer:
    """Fetches chunks of one server's WAL in order (see module docstring)."""

    def __init__(
        self,
        http: ArangoHttp,
        *,
        server: str,
        from_tick: int,
        src: str,
        chunk_size: int = 1024 * 1024,
        idle_min: float = 0.05,
        idle_max: float = 1.0,
    ) -> None:
        if from_tick <= 0:
            raise ValueError(f"tailing server {server} from tick {from_tick}: a start tick must be > 0")
        self._http = http
        self.server = server
        self.position = from_tick
        self._last_scanned = 0
        self._advanced = False  # whether the last committed chunk brought markers or moved position
        self._idle_min = idle_min
        self._idle_max = idle_max
        self._idle = idle_min
        self._params = {"global": True, "includeSystem": True, "chunkSize": chunk_size,
                        "syncerId": syncer_id(src, server), "clientInfo": f"dc2dc {src}"}

    async def fetch(self) -> TailChunk:
        """One request from ``position``; raises ``PositionLost`` when history is gone."""
        resp = await self._http.request(
            "GET", "/_api/wal/tail", db="_system",
            params={**self._params, "from": self.position, "lastScanned": self._last_scanned},
        )
        present = resp.header(H_FROM_PRESENT)
        if not present:
            # Every WAL handler sets it; if something in between dropped it, ask the WAL's range
            # rather than assume nothing was lost.
            tick_min = int((await self._http.request("GET", "/_api/wal/range", db="_system")).json()["tickMin"])
            present = "true" if tick_min <= self.position else "false"
        last_tick = _int_header(resp.headers, H_LAST_TICK)
        if present.lower() != "true" or 0 < last_tick < self.position:
            # The second case: the server's WAL is behind where we were (e.g. restored from a
            # backup); new writes would get ticks we consider seen.
            raise PositionLost(self.server, self.position)
        markers = resp.lines() if resp.status == 200 else []
        return TailChunk(
            markers=markers,
            last_included=_int_header(resp.headers, H_LAST_INCLUDED),
            last_scanned=_int_header(resp.headers, H_LAST_SCANNED),
            last_tick=last_tick,
            check_more=resp.header(H_CHECK_MORE, "false").lower() == "true",
        )

    def next_position(self, chunk: TailChunk) -> int:
        """Where ``commit(chunk)`` will move ``position``: every marker up to it has been seen."""
        if chunk.last_included > 0:
            return max(self.position, chunk.last_included)
        return max(self.position, chunk.last_scanned - 1)

    def commit(self, chunk: TailChunk) -> None:
        """The consumer has durably processed ``chunk``: move past it."""
        position = self.next_position(chunk)
        self._advanced = bool(chunk.markers) or position > self.position
        self.position = position
        self._last_scanned = chunk.last_scanned

    async def wait(self, chunk: TailChunk) -> None:
        """Pause before the next fetch: none when more is waiting, adaptive backoff when idle."""
        if chunk.check_more and self._advanced:
            self._idle = self._idle_min
            return
        if chunk.markers:
            self._idle = self._idle_min
        await asyncio.sleep(self._idle)
        if not chunk.markers:
            self._idle = min(self._idle * 2, self._idle_max)


async def server_last_tick(http: ArangoHttp) -> int:
    """The server's newest tick (``/_api/wal/lastTick``): where a fresh tail starts."""
    return int((await http.request("GET", "/_api/wal/lastTick", db="_system")).json()["tick"])
