"""``FULLTEXT(coll, attribute, query, limit)``: ArangoDB's fulltext-index lookup (deprecated, still
in 3.12), which python-arango's ``find_by_text()`` sends.

Follows RocksDBFulltextIndex: the query is a list of words separated by commas or whitespace,
each optionally led by ``+`` (and), ``|`` (or) or ``-`` (exclude) and ``prefix:`` or
``complete:``; the first word always adds (or), the others apply left to right. An empty query or
a word without text is error 10 (bad parameter). A document's indexed words come from the
attribute's string, or the strings of an array or object directly in it, split into words as
ICU's word-break rules do, lowercased, at least the index's ``minLength`` (default 2) and cut to
40 characters. ICU's rules (and its lowercasing and normalisation) are reproduced here for ASCII
only: a query or indexed text with other characters is refused, never answered with a guess.
Results come in the collection's storage order.
"""
from __future__ import annotations

import re
from typing import Any

from .aql_errors import QUERY_FUNCTION_ARGUMENT_TYPE_MISMATCH, AqlError
from .aql_nodes import Runtime
from .aql_values import rank
from .errors import BAD_PARAMETER, NOT_IMPLEMENTED

QUERY_FULLTEXT_INDEX_MISSING = 1571
_MAX_WORD_LENGTH = 40
_MAX_SEARCH_WORDS = 32
_DEFAULT_MIN_LENGTH = 2
_SEPARATORS = " \t\r\n\f\b,"
_RUN = re.compile(r"[A-Za-z0-9_]+")


def _refuse_non_ascii(text: str) -> None:
    if not text.isascii():
        raise AqlError(NOT_IMPLEMENTED, "AQL: FULLTEXT() over non-ASCII text is not supported by the "
                       "dc2dc ArangoDB stand-in (while executing)")


def words(text: str, min_length: int) -> set[str]:
    """The words ICU's word-break rules find in ASCII ``text``, as the fulltext index stores them."""
    _refuse_non_ascii(text)
    tokens: list[str] = []
    end = -1
    for run in _RUN.finditer(text):
        # letters join across . ' : and digits across . ' , ; (UAX #29 rules WB6/7 and WB11/12)
        if tokens and run.start() == end + 1:
            mid, before, after = text[end], text[end - 1], run.group()[0]
            if (before.isalpha() and after.isalpha() and mid in ".':") or \
                    (before.isdigit() and after.isdigit() and mid in ".',;"):
                tokens[-1] += mid + run.group()
                end = run.end()
                continue
        tokens.append(run.group())
        end = run.end()
    return {t.lower()[:_MAX_WORD_LENGTH] for t in tokens if len(t) >= min_length}


def _indexed_words(value: Any, min_length: int, level: int = 0) -> set[str]:
    if isinstance(value, str):
        return words(value, min_length)
    found: set[str] = set()
    if level == 0 and isinstance(value, (list, dict)):
        for item in value if isinstance(value, list) else value.values():
            found |= _indexed_words(item, min_length, 1)
    return found


def parse_query(query: str) -> list[tuple[str, bool, str]]:
    """[(operation "and" | "or" | "exclude", prefix match?, word)], as ArangoDB parses it."""
    _refuse_non_ascii(query)
    tokens: list[tuple[str, bool, str]] = []
    i, n = 0, len(query)
    while i < n and len(tokens) < _MAX_SEARCH_WORDS:
        if query[i] in _SEPARATORS:
            i += 1
            continue
        operation = {"+": "and", "|": "or", "-": "exclude"}.get(query[i], "and")
        if query[i] in "+|-":
            i += 1
        start = i
        while i < n and query[i] not in _SEPARATORS:
            i += 1
        word = query[start:i]
        command, colon, rest = word.partition(":")
        if not word or (colon and (not command or not rest)):
            raise AqlError(BAD_PARAMETER, "AQL: invalid value for fulltext query (while executing)", 400)
        prefix = bool(colon) and command.lower() == "prefix"
        text = rest if colon else word
        tokens.append((operation, prefix, text.lower()[:_MAX_WORD_LENGTH]))
    if not tokens:
        raise AqlError(BAD_PARAMETER, "AQL: invalid value for fulltext query (while executing)", 400)
    tokens[0] = ("or", tokens[0][1], tokens[0][2])
    return tokens


def fulltext(collection: str, args: list[Any], rt: Runtime) -> list[dict]:
    attribute, query, limit = (args + [None])[:3]
    index = next((i for i in rt.ctx.indexes(collection)
                  if i.get("type") == "fulltext" and i.get("fields") == [attribute]), None)
    if index is None:
        raise AqlError(QUERY_FULLTEXT_INDEX_MISSING, "AQL: no suitable fulltext index found for fulltext "
                       f"query on '{collection}' (while executing)")
    if not isinstance(query, str):
        raise AqlError(QUERY_FUNCTION_ARGUMENT_TYPE_MISMATCH, "AQL: invalid argument type in call to function 'FULLTEXT()' (while executing)")
    if limit is not None and (rank(limit) != 2 or limit < 0):
        raise AqlError(NOT_IMPLEMENTED, "AQL: FULLTEXT() with a limit that is not a non-negative number "
                       "is not supported by the dc2dc ArangoDB stand-in (while executing)")
    tokens = parse_query(query)
    min_length = max(1, int(index.get("minLength") or _DEFAULT_MIN_LENGTH))
    docs = [(doc, _indexed_words(doc.get(attribute), min_length)) for doc in rt.ctx.iter_documents(collection)]
    chosen: set[int] = set()
    for position, (operation, prefix, word) in enumerate(tokens):
        if position > 0 and operation != "or" and not chosen:
            continue  # nothing left to narrow
        hits = {i for i, (_, indexed) in enumerate(docs)
                if (any(w.startswith(word) for w in indexed) if prefix else word in indexed)}
        if operation == "or":
            chosen |= hits
        elif operation == "and":
            chosen &= hits
        else:
            chosen -= hits
    found = [docs[i][0] for i in sorted(chosen)]
    return found if limit is None else found[:int(limit)]
