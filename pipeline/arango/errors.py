"""ArangoDB's error answers as dc2dc errors."""

from __future__ import annotations

from dc2dc.pipeline.arango import errno
from dc2dc.topics.errors import Dc2dcError


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
