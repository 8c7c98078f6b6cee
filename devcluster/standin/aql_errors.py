"""Errors of the stand-in's AQL subset: ArangoDB's query error numbers and message forms.

Numbers are ArangoDB's (lib/Basics/errors.dat); HTTP codes follow GeneralResponse::responseCode;
messages follow its "AQL: ... (while parsing)" / "(while executing)" form.
"""
from __future__ import annotations

from .errors import DATA_SOURCE_NOT_FOUND, NOT_IMPLEMENTED, QUERY_PARSE, ArangoError

# Query errors not (yet) in errors.py; numbers from ArangoDB's errors.dat.
QUERY_NUMBER_OUT_OF_RANGE = 1504
QUERY_VARIABLE_REDECLARED = 1511
QUERY_VARIABLE_NAME_UNKNOWN = 1512
QUERY_FUNCTION_ARGUMENT_NUMBER_MISMATCH = 1541
QUERY_FUNCTION_ARGUMENT_TYPE_MISMATCH = 1542
QUERY_BIND_PARAMETER_UNDECLARED = 1552
QUERY_BIND_PARAMETER_TYPE = 1553
QUERY_ARRAY_EXPECTED = 1563
QUERY_COLLECTION_USED_IN_EXPRESSION = 1568
QUERY_COMPILE_TIME_OPTIONS = 1575

# ArangoDB's GeneralResponse maps every query error above to 400, except 1568 (unlisted: 500).
_HTTP = {NOT_IMPLEMENTED: 501, DATA_SOURCE_NOT_FOUND: 404, QUERY_COLLECTION_USED_IN_EXPRESSION: 500}


class AqlError(ArangoError):
    """A query error with ArangoDB's ``errorNum``, HTTP status and message."""

    def __init__(self, error_num: int, message: str, http_code: int | None = None) -> None:
        super().__init__(error_num, message, http_code or _HTTP.get(error_num, 400))


def parse_error(message: str) -> AqlError:
    return AqlError(QUERY_PARSE, f"AQL: {message} (while parsing)")


def unsupported(what: str) -> AqlError:
    return AqlError(NOT_IMPLEMENTED,
                    f"AQL: {what} is not supported by the dc2dc ArangoDB stand-in (while parsing)")

