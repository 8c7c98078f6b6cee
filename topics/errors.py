"""The root of dc2dc's one exception hierarchy, and the errors of the wire layer.

Every error says whether retrying the same operation may succeed (``retriable``), like
aiokafka's errors, so retry loops ask the error instead of keeping lists of classes. Anything
not retriable stops the component loudly — dc2dc never skips a change. It lives in ``topics/``,
the lowest layer, so that everything above (``pipeline/``, ``agents/``) shares one base.
"""

from __future__ import annotations


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
