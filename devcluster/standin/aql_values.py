"""AQL's value semantics: truthiness, the total order of values, and equality.

Types order null < bool < number < string < array < object; arrays compare element by element
(a shorter one is padded with null), objects attribute by attribute in collation order (a
missing attribute is null). Strings compare with ArangoDB's ICU collator, reproduced here for
printable ASCII only; ordering other strings raises rather than guessing.
"""
from __future__ import annotations

import functools
import unicodedata
from typing import Any

from .aql_errors import AqlError
from .errors import NOT_IMPLEMENTED


def rank(v: Any) -> int:
    """Position of ``v``'s type in AQL's type order."""
    if v is None:
        return 0
    if isinstance(v, bool):
        return 1
    if isinstance(v, (int, float)):
        return 2
    if isinstance(v, str):
        return 3
    if isinstance(v, list):
        return 4
    return 5


def truthy(v: Any) -> bool:
    """AQL's boolean conversion: null, false, 0 and "" are false; arrays and objects are true."""
    if isinstance(v, (list, dict)):
        return True
    return bool(v)


# Primary weights of printable ASCII in the Unicode root collation (DUCET, non-ignorable), the
# order ArangoDB's ICU collator uses: whitespace, punctuation, symbols, digits, letters.
_ASCII_PRIMARY = {c: i for i, c in enumerate(
    " _-,;:!?.'\"()[]{}@*/\\&#%`^+<=>|~$0123456789abcdefghijklmnopqrstuvwxyz")}
for _c in "abcdefghijklmnopqrstuvwxyz":
    _ASCII_PRIMARY[_c.upper()] = _ASCII_PRIMARY[_c]


@functools.lru_cache(maxsize=65536)
def _collation_key(s: str) -> tuple[tuple[int, ...], tuple[int, ...]]:
    # Primary level decides; ties are broken by case with ArangoDB's UCOL_UPPER_FIRST (A < a).
    try:
        primary = tuple(_ASCII_PRIMARY[c] for c in s)
    except KeyError:
        raise AqlError(NOT_IMPLEMENTED, f"AQL: ordering the string {s[:40]!r} needs ICU collation "
                       "beyond printable ASCII, which the dc2dc ArangoDB stand-in does not "
                       "implement (while executing)") from None
    return primary, tuple(0 if c.isupper() else 1 for c in s)


def _same_string(a: str, b: str) -> bool:
    # ICU's identical strength compares the NFD forms.
    return a == b or (not (a.isascii() and b.isascii())
                      and unicodedata.normalize("NFD", a) == unicodedata.normalize("NFD", b))


def _compare_strings(a: str, b: str) -> int:
    if _same_string(a, b):
        return 0
    ka, kb = _collation_key(a), _collation_key(b)
    return -1 if ka < kb else 1


def compare(a: Any, b: Any) -> int:
    """AQL's total order: null < bool < number < string < array < object, then by value."""
    ra, rb = rank(a), rank(b)
    if ra != rb:
        return -1 if ra < rb else 1
    if ra in (1, 2):
        return (a > b) - (a < b)
    if ra == 3:
        return _compare_strings(a, b)
    if ra == 4:
        for i in range(max(len(a), len(b))):
            c = compare(a[i] if i < len(a) else None, b[i] if i < len(b) else None)
            if c:
                return c
        return 0
    if ra == 5:
        # Attributes in collation order; a missing one counts as null.
        for k in sorted(set(a) | set(b), key=functools.cmp_to_key(_compare_strings)):
            c = compare(a.get(k), b.get(k))
            if c:
                return c
    return 0


def canonical(v: Any) -> Any:
    """A hashable value equal for exactly the values AQL's ``==`` calls equal."""
    r = rank(v)
    if r == 3:
        return (3, v if v.isascii() else unicodedata.normalize("NFD", v))
    if r == 4:
        items = [canonical(x) for x in v]
        while items and items[-1] == (0, None):  # [1] == [1, null]: a shorter array pads with null
            items.pop()
        return (4, tuple(items))
    if r == 5:
        return (5, frozenset((k, canonical(x)) for k, x in v.items() if x is not None))
    return (r, v)


def equal(a: Any, b: Any) -> bool:
    return canonical(a) == canonical(b)


def type_name(v: Any) -> str:
    return ("null", "bool", "number", "string", "array", "object")[rank(v)]
