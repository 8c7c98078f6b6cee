"""The one exception hierarchy of dc2dc.

Every error says whether retrying the same operation may succeed (``retriable``), like
aiokafka's errors, so retry loops ask the error instead of keeping lists of classes. Anything
not retriable stops the component loudly — dc2dc never skips a change.
"""

from __future__ import annotations

from dc2dc.pipeline import errno


class Dc2dcError(Exception):
    """Base of all dc2dc errors. ``retriable`` defaults to the class attribute."""

    retriable: bool = False

    def __init__(self, message: str, *, retriable: bool | None = None) -> None:
        super().__init__(message)
        self.message = message
        if retriable is not None:
            self.retriable = retriable


class DecodeError(Dc2dcError):
    """A Kafka record is not a valid envelope (bad JSON, missing/ill-typed field, newer schema)."""


class VerificationError(Dc2dcError):
    """A record's signature is missing, from an unknown key, or does not match: never apply it."""


class ChunkError(Dc2dcError):
    """Chunks of a large document arrived in a way that cannot be reassembled."""


class TopicConfigError(Dc2dcError):
    """A Kafka topic exists with settings dc2dc cannot work with (e.g. more than one partition)."""


class ConfigError(Dc2dcError):
    """Configuration or key material that cannot be used as given (bad file, bad value)."""


class ArangoError(Dc2dcError):
    """An error answer from ArangoDB's HTTP API, keeping its numbers (as python-arango does).

    ``retriable`` is derived from ``error_num`` (see ``errno.RETRIABLE``) and, for answers
    without an ArangoDB body (proxies, connection drops), from HTTP 502/503/504, unless given.
    """

    def __init__(
        self,
        http_code: int,
        error_num: int | None,
        message: str,
        *,
        retriable: bool | None = None,
    ) -> None:
        if retriable is None:
            retriable = (error_num in errno.RETRIABLE) if error_num is not None else http_code in (502, 503, 504)
        super().__init__(f"HTTP {http_code}, errorNum {error_num}: {message}", retriable=retriable)
        self.http_code = http_code
        self.error_num = error_num
        self.error_message = message
