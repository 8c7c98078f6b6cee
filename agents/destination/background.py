"""Fire-and-forget work of a destination worker (health records, resync requests), cancelled on stop."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

from dc2dc.pipeline.destination.shard_health import HealthState, HealthStore
from dc2dc.pipeline.retry import retrying

log = logging.getLogger(__name__)


class Background:
    """Tasks nobody awaits: a failure is logged, never raised into the code that started them."""

    def __init__(self) -> None:
        self._tasks: list[asyncio.Task[None]] = []

    def spawn(self, coro: Coroutine[Any, Any, None], what: str) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.append(task)

        def done(t: asyncio.Task[None]) -> None:
            if t in self._tasks:
                self._tasks.remove(t)
            if not t.cancelled() and t.exception() is not None:
                log.error("%s failed: %s", what, t.exception())

        task.add_done_callback(done)

    def cancel(self) -> list[asyncio.Task[None]]:
        """Cancel every task still running; the caller awaits the returned ones."""
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        return tasks


class HealthRecorder:
    """Stores each shard's health changes in the background, in the order they happened."""

    def __init__(self, store: HealthStore, background: Background) -> None:
        self._store = store
        self._background = background
        self._lock = asyncio.Lock()

    def record(self, shard: str, health: HealthState, reason: str = "") -> None:
        async def record() -> None:
            async with self._lock:   # FIFO: health changes are stored in the order they happened
                await retrying(f"recording the health of {shard}", lambda: self._store.save(shard, health, reason))

        self._background.spawn(record(), f"recording the health of {shard}")
