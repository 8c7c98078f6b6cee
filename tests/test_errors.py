"""The exception hierarchy: every error knows whether a retry may succeed."""

from __future__ import annotations

import pytest

from dc2dc.pipeline.arango import errno
from dc2dc.pipeline.errors import (
    ArangoError,
    ChunkError,
    ConfigError,
    Dc2dcError,
    DecodeError,
    TopicConfigError,
    VerificationError,
)


@pytest.mark.parametrize(
    "cls", [DecodeError, VerificationError, ChunkError, TopicConfigError, ConfigError]
)
def test_product_errors_are_fatal_by_default_and_share_one_base(cls: type[Dc2dcError]) -> None:
    err = cls("boom")
    assert isinstance(err, Dc2dcError)
    assert err.retriable is False
    assert str(err) == "boom"


def test_retriable_can_be_set_per_instance_without_changing_the_class() -> None:
    assert Dc2dcError("x", retriable=True).retriable is True
    assert Dc2dcError("x").retriable is False


@pytest.mark.parametrize(
    ("http_code", "error_num", "retriable"),
    [
        (503, errno.CLUSTER_TIMEOUT, True),
        (500, errno.LOCK_TIMEOUT, True),          # 500, yet transient: errno decides, not HTTP
        (503, errno.REPLICATION_WRITE_CONCERN_NOT_FULFILLED, True),
        (421, errno.CLUSTER_SHARD_LEADER_RESIGNED, True),
        (404, errno.ARANGO_DOCUMENT_NOT_FOUND, False),
        (409, errno.ARANGO_UNIQUE_CONSTRAINT_VIOLATED, False),
        (400, errno.ARANGO_DOCUMENT_KEY_BAD, False),
        (503, None, True),                         # no ArangoDB body (proxy, restart): HTTP decides
        (502, None, True),
        (500, None, False),
    ],
)
def test_arango_error_derives_retriable_from_errno_then_http(
    http_code: int, error_num: int | None, retriable: bool
) -> None:
    err = ArangoError(http_code, error_num, "msg")
    assert err.retriable is retriable
    assert (err.http_code, err.error_num, err.error_message) == (http_code, error_num, "msg")


def test_arango_error_message_keeps_both_numbers() -> None:
    err = ArangoError(404, errno.ARANGO_DATABASE_NOT_FOUND, "database not found")
    assert str(err) == "HTTP 404, errorNum 1228: database not found"


def test_arango_error_explicit_retriable_wins() -> None:
    assert ArangoError(404, errno.ARANGO_DOCUMENT_NOT_FOUND, "x", retriable=True).retriable is True
