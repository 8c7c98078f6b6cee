"""The one retry policy of dc2dc: which errors a retry may fix, and for how long to try.

Errors carry ``retriable`` (``topics/errors.py``, and aiokafka's ``KafkaError`` does too), so the
classification asks the error; of the exceptions outside both hierarchies only a dropped connection
and a timeout are worth another try. A retry that never gives up hides a stuck stream behind "still
trying", so every retry has a budget: once it is spent the last error is raised as
:class:`RetryBudgetSpent`, which is not retriable, and the caller's failure path (a stopped shard,
a failed worker) makes it visible.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from aiokafka.errors import KafkaError

from dc2dc.topics.errors import Dc2dcError

T = TypeVar("T")
log = logging.getLogger(__name__)


def is_retriable(exc: BaseException) -> bool:
    """Whether the same operation, tried again, may succeed."""
    if isinstance(exc, (Dc2dcError, KafkaError)):
        return bool(exc.retriable)
    return isinstance(exc, (ConnectionError, asyncio.TimeoutError, TimeoutError))


class RetryBudgetSpent(Dc2dcError):
    """A retriable error went on for longer than the retry budget allows."""

    def __init__(self, what: str, attempts: int, elapsed_s: float, last: BaseException) -> None:
        super().__init__(f"{what}: still failing after {attempts} attempts in {elapsed_s:.0f}s: {last}",
                         retriable=False)
        self.attempts = attempts
        self.last = last


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff from ``first_delay_s`` up to ``max_delay_s``, for at most ``budget_s``."""

    first_delay_s: float = 0.05
    max_delay_s: float = 5.0
    budget_s: float = 600.0

    def delays(self) -> Callable[[], float]:
        """A fresh backoff sequence: each call returns the next pause."""
        delay = self.first_delay_s / 2

        def next_delay() -> float:
            nonlocal delay
            delay = min(delay * 2, self.max_delay_s)
            return delay

        return next_delay

    async def run(self, what: str, fn: Callable[[], Awaitable[T]]) -> T:
        """``await fn()`` until it succeeds, fails with an error a retry cannot fix, or the budget is spent."""
        started = time.monotonic()
        next_delay = self.delays()
        attempts = 0
        while True:
            attempts += 1
            try:
                return await fn()
            except Exception as exc:  # noqa: BLE001 - classified right here; anything else is re-raised
                if not is_retriable(exc):
                    raise
                elapsed = time.monotonic() - started
                delay = next_delay()
                if elapsed + delay > self.budget_s:
                    raise RetryBudgetSpent(what, attempts, elapsed, exc) from exc
                log.warning("%s: %s; retrying in %.2fs", what, exc, delay)
            await asyncio.sleep(delay)


async def retrying(what: str, fn: Callable[[], Awaitable[T]]) -> T:
    """Run ``fn`` under the default :class:`RetryPolicy`."""
    return await RetryPolicy().run(what, fn)
