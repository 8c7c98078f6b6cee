"""The one retry policy: what it retries, what it gives up on, and that it gives up at all."""

from __future__ import annotations

import asyncio

import pytest
from aiokafka.errors import KafkaConnectionError, ProducerFenced

from dc2dc.pipeline.arango import errno
from dc2dc.pipeline.errors import ArangoError, ConfigError, DecodeError
from dc2dc.pipeline.retry import RetryBudgetSpent, RetryPolicy, is_retriable

FAST = RetryPolicy(first_delay_s=0.001, max_delay_s=0.01, budget_s=0.2)


@pytest.mark.parametrize("exc", [
    ArangoError(503, errno.CLUSTER_TIMEOUT, "cluster timeout"),
    ArangoError(502, None, "bad gateway from a proxy"),
    KafkaConnectionError(),
    ConnectionResetError(),
    asyncio.TimeoutError(),
    DecodeError("a flaky read", retriable=True),
], ids=repr)
def test_transient_errors_are_retried(exc: BaseException) -> None:
    assert is_retriable(exc)


@pytest.mark.parametrize("exc", [
    ArangoError(409, errno.ARANGO_UNIQUE_CONSTRAINT_VIOLATED, "unique constraint violated"),
    ArangoError(401, errno.HTTP_UNAUTHORIZED, "not authorized"),
    ProducerFenced(),
    DecodeError("not JSON"),
    ConfigError("bad topology"),
    ValueError("a programming error"),
    KeyError("missing"),
], ids=repr)
def test_errors_a_retry_cannot_fix_are_not_retried(exc: BaseException) -> None:
    assert not is_retriable(exc)


async def test_a_retriable_failure_is_retried_until_it_succeeds() -> None:
    calls = 0

    async def flaky() -> str:
        nonlocal calls
        calls += 1
        if calls < 4:
            raise ConnectionResetError()
        return "done"

    assert await FAST.run("flaky", flaky) == "done"
    assert calls == 4


async def test_an_error_a_retry_cannot_fix_is_raised_at_once() -> None:
    calls = 0

    async def broken() -> None:
        nonlocal calls
        calls += 1
        raise ArangoError(409, errno.ARANGO_UNIQUE_CONSTRAINT_VIOLATED, "unique")

    with pytest.raises(ArangoError):
        await FAST.run("broken", broken)
    assert calls == 1


async def test_a_retry_gives_up_when_its_budget_is_spent() -> None:
    async def down() -> None:
        raise ArangoError(503, errno.CLUSTER_TIMEOUT, "still down")

    with pytest.raises(RetryBudgetSpent) as caught:
        await FAST.run("writing to a destination that stays down", down)
    assert caught.value.attempts > 1
    assert not caught.value.retriable
    assert isinstance(caught.value.last, ArangoError)
    assert "writing to a destination that stays down" in str(caught.value)


def test_backoff_doubles_up_to_its_ceiling() -> None:
    next_delay = RetryPolicy(first_delay_s=0.1, max_delay_s=0.5).delays()
    assert [round(next_delay(), 3) for _ in range(5)] == [0.1, 0.2, 0.4, 0.5, 0.5]
