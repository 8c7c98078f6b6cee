"""The rule "no shard step while the structure changes", inside one process.

Shard steps run alongside each other; a structure change waits for the running ones to finish
and holds back new ones while it waits, so a stream of shard steps cannot starve it. One active
worker per flow is what makes a process-local gate enough (see ``agents.destination``).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator


class StructureGate:
    """A readers-writer lock that prefers the writer: shard steps share it, a structure change holds it alone."""

    def __init__(self) -> None:
        self._cond = asyncio.Condition()
        self._readers = 0
        self._writer = False
        self._writers_waiting = 0

    @contextlib.asynccontextmanager
    async def shared(self) -> AsyncIterator[None]:
        async with self._cond:
            await self._cond.wait_for(lambda: not self._writer and not self._writers_waiting)
            self._readers += 1
        try:
            yield
        finally:
            async with self._cond:
                self._readers -= 1
                self._cond.notify_all()

    @contextlib.asynccontextmanager
    async def exclusive(self) -> AsyncIterator[None]:
        async with self._cond:
            self._writers_waiting += 1
            try:
                await self._cond.wait_for(lambda: not self._writer and self._readers == 0)
            finally:
                self._writers_waiting -= 1
            self._writer = True
        try:
            yield
        finally:
            async with self._cond:
                self._writer = False
                self._cond.notify_all()
