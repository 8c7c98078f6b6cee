"""The small AQL subset the ArangoDB stand-in answers through ``/_api/cursor``.

A tokenizer, a recursive-descent parser that builds a :class:`Plan`, and an evaluator that runs
the plan against an :class:`AqlContext` (the stand-in's storage). Supported::

    [FOR v IN <collection | @@c | expression> [OPTIONS {...}]]...   (nested loops)
    [LET v = expr] [FILTER expr] [SORT expr [ASC|DESC], ...] [LIMIT [offset,] count] ...
    RETURN [DISTINCT] expr
    INSERT|UPDATE|REPLACE|REMOVE expr [WITH expr] IN|INTO <collection> [OPTIONS {...}]
        [RETURN [DISTINCT] expr]                                      (NEW / OLD available)

Expressions: literals, bind parameters, variables, attribute paths (``d.a.b``, ``d.@attr``,
``d["x"]``, ``arr[0]``), array and object literals, ``== != < <= > >= IN NOT IN``,
``AND OR NOT`` (with ArangoDB's precedence: ``NOT`` binds tighter than comparisons),
``+ - * / %`` on numbers, integer ranges ``1..n``, and the functions ``LENGTH()`` / ``COUNT()``
(also of a collection).

Everything else that ArangoDB accepts (COLLECT, subqueries, other functions, graph traversals,
UPSERT, arithmetic on non-numbers, ...) raises :class:`AqlError` with ``ERROR_NOT_IMPLEMENTED``
(9, HTTP 501): the stand-in refuses rather than answering wrongly. The same holds for ordering
strings outside printable ASCII: ArangoDB orders strings with an ICU collator, which is
reproduced here only for printable ASCII.

Error numbers and HTTP codes are ArangoDB's (lib/Basics/errors.dat and
GeneralResponse::responseCode); messages follow its "AQL: ... (while parsing)" form.
"""
from __future__ import annotations

import functools
import math
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from typing import Any, NoReturn, Protocol

from .errors import (
    DATA_SOURCE_NOT_FOUND,
    DOCUMENT_KEY_MISSING,
    DOCUMENT_TYPE_INVALID,
    NOT_IMPLEMENTED,
    QUERY_BIND_PARAMETER_MISSING,
    QUERY_EMPTY,
    QUERY_PARSE,
    ArangoError,
)

# Query errors not (yet) in errors.py; numbers from ArangoDB's errors.dat.
QUERY_NUMBER_OUT_OF_RANGE = 1504
QUERY_VARIABLE_REDECLARED = 1511
QUERY_VARIABLE_NAME_UNKNOWN = 1512
QUERY_FUNCTION_ARGUMENT_NUMBER_MISMATCH = 1541
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


def _parse_error(message: str) -> AqlError:
    return AqlError(QUERY_PARSE, f"AQL: {message} (while parsing)")


def _unsupported(what: str) -> AqlError:
    return AqlError(NOT_IMPLEMENTED,
                    f"AQL: {what} is not supported by the dc2dc ArangoDB stand-in (while parsing)")


class AqlContext(Protocol):
    """The stand-in's storage as the evaluator sees it (one database, one query).

    ``iter_documents`` and ``count`` raise ``AqlError`` 1203 for an unknown collection.
    ``iter_documents`` should yield a snapshot: a modification query writes while the rows it
    read stay valid. Writes return the document API's result object (``_id``, ``_key``, ``_rev``,
    plus ``new`` / ``old`` when the options ask with ``returnNew`` / ``returnOld``) and raise
    ``ArangoError`` (e.g. 1202, 1210) on failure. ``key_or_doc`` is a key string or a document
    with ``_key``.
    """

    def iter_documents(self, collection: str, shard_ids: list[str] | None = None) -> Iterable[dict]: ...
    def count(self, collection: str) -> int: ...
    async def insert(self, collection: str, doc: dict, options: dict) -> dict: ...
    async def update(self, collection: str, key_or_doc: Any, changes: dict, options: dict) -> dict: ...
    async def replace(self, collection: str, key_or_doc: Any, doc: dict, options: dict) -> dict: ...
    async def remove(self, collection: str, key_or_doc: Any, options: dict) -> dict: ...


# --------------------------------------------------------------------------- values

def _rank(v: Any) -> int:
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
    ra, rb = _rank(a), _rank(b)
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
    r = _rank(v)
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


# --------------------------------------------------------------------------- tokens

KEYWORDS = frozenset("""FOR LET FILTER RETURN COLLECT SORT LIMIT WINDOW ASC DESC IN WITH INTO
    AGGREGATE GRAPH SHORTEST_PATH K_SHORTEST_PATHS K_PATHS ALL_SHORTEST_PATHS DISTINCT REMOVE
    INSERT UPDATE REPLACE UPSERT NULL TRUE FALSE NOT AND OR LIKE OUTBOUND INBOUND ANY ALL
    NONE""".split())

# Display names as ArangoDB's grammar reports them in "unexpected ..." messages.
_KEYWORD_NAMES = {"FOR": "FOR declaration", "LET": "LET declaration", "FILTER": "FILTER declaration",
                  "RETURN": "RETURN declaration", "COLLECT": "COLLECT declaration",
                  "SORT": "SORT declaration", "LIMIT": "LIMIT declaration",
                  "WINDOW": "WINDOW declaration", "DISTINCT": "DISTINCT modifier",
                  "REMOVE": "REMOVE command", "INSERT": "INSERT command",
                  "UPDATE": "UPDATE command", "REPLACE": "REPLACE command",
                  "UPSERT": "UPSERT command", "NULL": "null", "TRUE": "true", "FALSE": "false",
                  "NOT": "not operator", "AND": "and operator", "OR": "or operator",
                  "LIKE": "like operator"}

_TOKEN_RE = re.compile(r"""
    (?P<ws>\s+|//[^\n]*|/\*.*?\*/)
  | (?P<double>(?:0|[1-9][0-9]*)(?:\.[0-9]+(?:[eE][-+]?[0-9]+)?|[eE][-+]?[0-9]+))
  | (?P<int>0[xX][0-9a-fA-F]+|0[bB][01]+|0|[1-9][0-9]*)
  | (?P<name>[a-zA-Z][_a-zA-Z0-9]*|_+[a-zA-Z]+[_a-zA-Z0-9]*)
  | (?P<quoted>`(?:[^`\\]|\\.)*`|´(?:[^´\\]|\\.)*´)
  | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
  | (?P<dsparam>@@_*[a-zA-Z0-9][a-zA-Z0-9_]*)
  | (?P<param>@_*[a-zA-Z0-9][a-zA-Z0-9_]*)
  | (?P<op>==|!=|<=|>=|&&|\|\||=~|!~|::|\.\.|[<>=!.,:?()\[\]{}+\-*/%])
""", re.VERBOSE | re.DOTALL)

_OPERATOR_TOKENS = frozenset(["==", "!=", "<", "<=", ">", ">=", "&&", "||", "=~", "!~", "!",
                              "+", "-", "*", "/", "%", "NOT IN"])
_NOT_IN_RE = re.compile(r"\s+(?i:IN)(?![_a-zA-Z0-9])")
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f"}


@dataclass(frozen=True, slots=True)
class Token:
    kind: str  # kw, name, string, int, double, param, dsparam, op, end
    value: Any
    pos: int


def _unescape(body: str) -> str:
    out, i = [], 0
    while i < len(body):
        c = body[i]
        if c == "\\" and i + 1 < len(body):
            nxt = body[i + 1]
            if nxt == "u" and re.fullmatch(r"[0-9a-fA-F]{4}", body[i + 2:i + 6]):
                out.append(chr(int(body[i + 2:i + 6], 16)))
                i += 6
                continue
            out.append(_ESCAPES.get(nxt, nxt))
            i += 2
            continue
        out.append(c)
        i += 1
    s = "".join(out)
    # \uD83D\uDE00 pairs arrive as two surrogates; join them into one character.
    return s.encode("utf-16", "surrogatepass").decode("utf-16") if re.search("[\ud800-\udfff]", s) else s


def tokenize(query: str) -> list[Token]:
    tokens: list[Token] = []
    pos = 0
    while pos < len(query):
        m = _TOKEN_RE.match(query, pos)
        if m is None:
            raise _parse_error(f"syntax error, unexpected character {query[pos]!r}{_near(query, pos)}")
        kind, text = m.lastgroup, m.group()
        end = m.end()
        if kind == "ws":
            pass
        elif kind == "name" and text.upper() in KEYWORDS:
            word = text.upper()
            nxt = _NOT_IN_RE.match(query, end) if word == "NOT" else None
            if nxt:  # the lexer reads "NOT IN" as one operator, as ArangoDB's does
                tokens.append(Token("op", "NOT IN", pos))
                end = nxt.end()
            else:
                tokens.append(Token("kw", word, pos))
        elif kind in ("name", "quoted"):
            tokens.append(Token("name", text if kind == "name" else _unescape(text[1:-1]), pos))
        elif kind == "string":
            tokens.append(Token("string", _unescape(text[1:-1]), pos))
        elif kind == "int":
            base = {"x": 16, "b": 2}.get(text[1:2].lower(), 10)
            tokens.append(Token("int", int(text[2:] if base != 10 else text, base), pos))
        elif kind == "double":
            tokens.append(Token("double", float(text), pos))
        elif kind == "dsparam":
            tokens.append(Token("dsparam", text[1:], pos))  # bind key keeps one '@': "@coll"
        elif kind == "param":
            tokens.append(Token("param", text[1:], pos))
        else:
            tokens.append(Token("op", text, pos))
        pos = end
    tokens.append(Token("end", None, len(query)))
    return tokens


def _near(query: str, pos: int) -> str:
    line = query.count("\n", 0, pos) + 1
    col = pos - (query.rfind("\n", 0, pos) + 1) + 1
    region = query[pos:pos + 32] + ("..." if len(query) - pos > 32 else "")
    return f" near '{region}' at position {line}:{col}"


def _describe(t: Token) -> str:
    if t.kind == "kw":
        return _KEYWORD_NAMES.get(t.value, f"{t.value} keyword")
    names = {"name": "identifier", "string": "quoted string", "int": "integer number",
             "double": "number", "param": "bind parameter", "dsparam": "bind data source parameter",
             "end": "end of query string"}
    if t.kind in names:
        return names[t.kind]
    if t.value == "=":
        return "assignment"
    return f"{t.value} operator" if t.value in _OPERATOR_TOKENS else t.value


# --------------------------------------------------------------------------- expressions

class _Runtime:
    """What expressions read at execution time besides the current row."""

    def __init__(self, bind_vars: dict, ctx: AqlContext) -> None:
        self.bind_vars = bind_vars
        self.ctx = ctx

    def collection_name(self, ref: CollectionRef) -> str:
        if ref.param is None:
            assert ref.name is not None
            return ref.name
        value = self.bind_vars[ref.param]
        if not isinstance(value, str):
            raise AqlError(QUERY_BIND_PARAMETER_TYPE,
                           f"AQL: bind parameter '{ref.param}' has an invalid value or type (while parsing)")
        return value


class Expr:
    def evaluate(self, row: dict, rt: _Runtime) -> Any:
        raise NotImplementedError

    def is_constant(self) -> bool:
        """True if the value needs no variables (literals and bind parameters only)."""
        return False


@dataclass(frozen=True)
class Literal(Expr):
    value: Any

    def evaluate(self, row: dict, rt: _Runtime) -> Any:
        return self.value

    def is_constant(self) -> bool:
        return True


@dataclass(frozen=True)
class Param(Expr):
    name: str

    def evaluate(self, row: dict, rt: _Runtime) -> Any:
        return rt.bind_vars[self.name]

    def is_constant(self) -> bool:
        return True


@dataclass(frozen=True)
class Var(Expr):
    name: str

    def evaluate(self, row: dict, rt: _Runtime) -> Any:
        return row[self.name]


@dataclass(frozen=True)
class CollectionRef(Expr):
    """A collection named in the query (``name="users"``) or bound (``@@coll``: ``param="@coll"``)."""

    name: str | None
    param: str | None = None

    def evaluate(self, row: dict, rt: _Runtime) -> Any:
        # Plans are checked before running, so a collection only reaches here through a bug.
        raise AqlError(QUERY_COLLECTION_USED_IN_EXPRESSION,
                       f"AQL: collection '{rt.collection_name(self)}' used as expression operand "
                       "(while executing)")


@dataclass(frozen=True)
class Attribute(Expr):
    base: Expr
    name: str | Expr  # an Expr for ``d.@attr``

    def evaluate(self, row: dict, rt: _Runtime) -> Any:
        value = self.base.evaluate(row, rt)
        if isinstance(self.name, str):
            return value.get(self.name) if isinstance(value, dict) else None
        path = self.name.evaluate(row, rt)
        if isinstance(path, str):
            path = [path]
        if not (isinstance(path, list) and path and all(isinstance(p, str) for p in path)):
            raise AqlError(QUERY_BIND_PARAMETER_TYPE, "AQL: bind parameter for attribute access "
                           "has an invalid value or type (while executing)")
        for part in path:
            value = value.get(part) if isinstance(value, dict) else None
        return value


@dataclass(frozen=True)
class Index(Expr):
    base: Expr
    index: Expr

    def evaluate(self, row: dict, rt: _Runtime) -> Any:
        value, idx = self.base.evaluate(row, rt), self.index.evaluate(row, rt)
        if isinstance(value, dict) and isinstance(idx, str):
            return value.get(idx)
        if isinstance(value, list) and _rank(idx) == 2 and float(idx).is_integer():
            i = int(idx)
            return value[i] if -len(value) <= i < len(value) else None
        if value is None or (not isinstance(value, (list, dict))):
            return None
        raise AqlError(NOT_IMPLEMENTED, f"AQL: indexing an {type(value).__name__} with "
                       f"{idx!r} is not supported by the dc2dc ArangoDB stand-in (while executing)")


@dataclass(frozen=True)
class ArrayLit(Expr):
    items: tuple[Expr, ...]

    def evaluate(self, row: dict, rt: _Runtime) -> Any:
        return [e.evaluate(row, rt) for e in self.items]

    def is_constant(self) -> bool:
        return all(e.is_constant() for e in self.items)


@dataclass(frozen=True)
class ObjectLit(Expr):
    items: tuple[tuple[str | Expr, Expr], ...]  # key is an Expr for ``[expr]: v`` and ``@k: v``

    def evaluate(self, row: dict, rt: _Runtime) -> Any:
        out: dict = {}
        for key, value in self.items:
            if not isinstance(key, str):
                key = key.evaluate(row, rt)
                if not isinstance(key, str):
                    raise AqlError(NOT_IMPLEMENTED, f"AQL: the non-string attribute name {key!r} is "
                                   "not supported by the dc2dc ArangoDB stand-in (while executing)")
            if key in out:
                raise AqlError(NOT_IMPLEMENTED, f"AQL: duplicate attribute name '{key}' in an object "
                               "literal is not supported by the dc2dc ArangoDB stand-in (while executing)")
            out[key] = value.evaluate(row, rt)
        return out

    def is_constant(self) -> bool:
        return all((isinstance(k, str) or k.is_constant()) and v.is_constant() for k, v in self.items)


@dataclass(frozen=True)
class Not(Expr):
    operand: Expr

    def evaluate(self, row: dict, rt: _Runtime) -> Any:
        return not truthy(self.operand.evaluate(row, rt))

    def is_constant(self) -> bool:
        return self.operand.is_constant()


@dataclass(frozen=True)
class Logical(Expr):
    """AND / OR return one of their operands, like JavaScript's ``&&`` / ``||``."""

    op: str
    left: Expr
    right: Expr

    def evaluate(self, row: dict, rt: _Runtime) -> Any:
        left = self.left.evaluate(row, rt)
        if truthy(left) == (self.op == "OR"):
            return left
        return self.right.evaluate(row, rt)

    def is_constant(self) -> bool:
        return self.left.is_constant() and self.right.is_constant()


_COMPARE = {"<": lambda c: c < 0, "<=": lambda c: c <= 0, ">": lambda c: c > 0, ">=": lambda c: c >= 0}


@dataclass(frozen=True)
class Comparison(Expr):
    op: str  # == != < <= > >= IN NOT IN
    left: Expr
    right: Expr

    def evaluate(self, row: dict, rt: _Runtime) -> Any:
        left, right = self.left.evaluate(row, rt), self.right.evaluate(row, rt)
        if self.op == "==":
            return equal(left, right)
        if self.op == "!=":
            return not equal(left, right)
        if self.op in ("IN", "NOT IN"):
            found = isinstance(right, list) and any(equal(left, x) for x in right)
            return found if self.op == "IN" else not found
        return _COMPARE[self.op](compare(left, right))

    def is_constant(self) -> bool:
        return self.left.is_constant() and self.right.is_constant()


_MAX_EXACT = 2 ** 53  # ArangoDB computes with doubles, exact for integers below this


def _arith_operand(value: Any, op: str) -> int | float:
    if _rank(value) != 2:
        raise AqlError(NOT_IMPLEMENTED, f"AQL: the operator {op} on a value of type "
                       f"'{_type_name(value)}' (which AQL would convert to a number) is not "
                       "supported by the dc2dc ArangoDB stand-in (while executing)")
    return value


def _arith_result(value: int | float) -> int | float | None:
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            return None  # AQL: an overflowing operation yields null
        if value.is_integer():
            value = int(value)  # a double with an integral value prints as an integer
    if abs(value) >= _MAX_EXACT:
        raise AqlError(NOT_IMPLEMENTED, "AQL: arithmetic beyond 2^53, where ArangoDB's doubles "
                       "round, is not supported by the dc2dc ArangoDB stand-in (while executing)")
    return value


@dataclass(frozen=True)
class Arithmetic(Expr):
    """``+ - * / %`` on numbers; unary minus and plus are ``0 - x`` and ``0 + x``."""

    op: str
    left: Expr
    right: Expr

    def evaluate(self, row: dict, rt: _Runtime) -> Any:
        a = _arith_operand(self.left.evaluate(row, rt), self.op)
        b = _arith_operand(self.right.evaluate(row, rt), self.op)
        if self.op in ("/", "%") and b == 0:
            return None  # AQL: division by zero yields null (with a warning)
        if self.op == "+":
            return _arith_result(a + b)
        if self.op == "-":
            return _arith_result(a - b)
        if self.op == "*":
            return _arith_result(a * b)
        if self.op == "/":
            return _arith_result(a / b)
        return _arith_result(math.fmod(a, b))  # the remainder takes the dividend's sign, as in C

    def is_constant(self) -> bool:
        return self.left.is_constant() and self.right.is_constant()


_MAX_RANGE = 10_000_000


@dataclass(frozen=True)
class Range(Expr):
    """``low..high``: the integers from low to high inclusive (descending if high < low)."""

    low: Expr
    high: Expr

    def values(self, row: dict, rt: _Runtime) -> range:
        bounds = []
        for expr in (self.low, self.high):
            v = expr.evaluate(row, rt)
            if _rank(v) != 2 or not float(v).is_integer():
                raise AqlError(NOT_IMPLEMENTED, f"AQL: a range bound of {v!r} (not an integer) is "
                               "not supported by the dc2dc ArangoDB stand-in (while executing)")
            bounds.append(int(v))
        low, high = bounds
        return range(low, high + 1) if low <= high else range(low, high - 1, -1)

    def evaluate(self, row: dict, rt: _Runtime) -> Any:
        values = self.values(row, rt)
        if len(values) > _MAX_RANGE:
            raise AqlError(NOT_IMPLEMENTED, f"AQL: an array of more than {_MAX_RANGE} values from a "
                           "range is not supported by the dc2dc ArangoDB stand-in (while executing)")
        return list(values)

    def is_constant(self) -> bool:
        return self.low.is_constant() and self.high.is_constant()


@dataclass(frozen=True)
class Length(Expr):
    """``LENGTH(x)`` / ``COUNT(x)``: documents in a collection, or the length of a value."""

    arg: Expr

    def evaluate(self, row: dict, rt: _Runtime) -> Any:
        if isinstance(self.arg, CollectionRef):
            return rt.ctx.count(rt.collection_name(self.arg))
        value = self.arg.evaluate(row, rt)
        if value is None:
            return 0
        if isinstance(value, bool):
            return int(value)
        if isinstance(value, (str, list, dict)):
            return len(value)
        if isinstance(value, int) or value.is_integer():
            return len(str(int(value)))  # characters of the number's string form
        raise AqlError(NOT_IMPLEMENTED, "AQL: LENGTH() of a fractional number is not supported by "
                       "the dc2dc ArangoDB stand-in (while executing)")


# --------------------------------------------------------------------------- plan

@dataclass(frozen=True)
class For:
    var: str
    source: Expr  # CollectionRef for a collection scan


@dataclass(frozen=True)
class Let:
    var: str
    expr: Expr


@dataclass(frozen=True)
class Filter:
    expr: Expr


@dataclass(frozen=True)
class Sort:
    keys: tuple[tuple[Expr, bool], ...]  # (expression, ascending)


@dataclass(frozen=True)
class Limit:
    offset: Expr
    count: Expr


@dataclass(frozen=True)
class Return:
    expr: Expr
    distinct: bool = False


@dataclass(frozen=True)
class Modify:
    op: str  # INSERT UPDATE REPLACE REMOVE
    doc: Expr  # the document, or for UPDATE/REPLACE ... WITH / REMOVE: the key or document
    collection: CollectionRef
    with_: Expr | None = None
    options: ObjectLit | None = None


Step = For | Let | Filter | Sort | Limit


@dataclass(frozen=True)
class Plan:
    query: str
    steps: tuple[Step, ...]
    final: Return | Modify
    returning: Return | None = None  # RETURN after a modification
    bind_params: tuple[str, ...] = ()  # declared keys, in order: "x" for @x, "@c" for @@c
    collections: tuple[CollectionRef, ...] = ()
    operand_collections: tuple[CollectionRef, ...] = ()  # used as expression operands (an error)
    uses: frozenset[str] = field(default_factory=frozenset)  # NEW / OLD used after a modification

    @property
    def modifies(self) -> bool:
        return isinstance(self.final, Modify)


# --------------------------------------------------------------------------- parser

_MODIFY_VARS = {"INSERT": ("NEW",), "UPDATE": ("NEW", "OLD"), "REPLACE": ("NEW", "OLD"),
                "REMOVE": ("OLD",)}


class _Parser:
    def __init__(self, query: str) -> None:
        self.query = query
        self.tokens = tokenize(query)
        self.i = 0
        self.scope: set[str] = set()
        self.params: list[str] = []
        self.collections: list[CollectionRef] = []
        self.operands: list[CollectionRef] = []
        self.uses: set[str] = set()

    # token helpers
    def peek(self, ahead: int = 0) -> Token:
        return self.tokens[min(self.i + ahead, len(self.tokens) - 1)]

    def next(self) -> Token:
        t = self.peek()
        self.i += 1
        return t

    def at(self, kind: str, value: Any = None) -> bool:
        t = self.peek()
        return t.kind == kind and (value is None or t.value == value)

    def accept(self, kind: str, value: Any = None) -> Token | None:
        return self.next() if self.at(kind, value) else None

    def expect(self, kind: str, value: Any = None, what: str | None = None) -> Token:
        if not self.at(kind, value):
            self.fail(f", expecting {what}" if what else "")
        return self.next()

    def fail(self, expecting: str = "", t: Token | None = None) -> NoReturn:
        t = t or self.peek()
        raise _parse_error(f"syntax error, unexpected {_describe(t)}{expecting}{_near(self.query, t.pos)}")

    # statements
    def parse(self) -> Plan:
        steps: list[Step] = []
        while True:
            t = self.peek()
            if t.kind != "kw":
                if t.kind == "name" and t.value.upper() in ("SEARCH", "PRUNE"):
                    raise _unsupported(f"{t.value.upper()}")
                self.fail()
            if t.value == "FOR":
                steps.append(self.parse_for())
            elif t.value == "LET":
                self.next()
                name = self.expect("name", what="identifier")
                self.expect("op", "=", "assignment")
                expr = self.parse_expression()
                steps.append(Let(self.declare(name), expr))
            elif t.value == "FILTER":
                self.next()
                steps.append(Filter(self.parse_expression()))
            elif t.value == "SORT":
                steps.append(self.parse_sort())
            elif t.value == "LIMIT":
                steps.append(self.parse_limit())
            elif t.value == "RETURN":
                final = self.parse_return(top_level=not any(isinstance(s, For) for s in steps))
                return self.finish(steps, final, None)
            elif t.value in _MODIFY_VARS:
                final = self.parse_modify()
                returning = None
                if self.at("kw", "RETURN"):
                    self.scope.update(_MODIFY_VARS[final.op])
                    returning = self.parse_return(top_level=not any(isinstance(s, For) for s in steps))
                elif not self.at("end"):
                    raise _unsupported("a statement after a data-modification operation")
                return self.finish(steps, final, returning)
            elif t.value in ("COLLECT", "WINDOW", "UPSERT"):
                raise _unsupported(t.value)
            elif t.value == "WITH" and not steps:
                raise _unsupported("WITH (collection declarations for traversals)")
            else:
                self.fail()

    def finish(self, steps: list[Step], final: Return | Modify, returning: Return | None) -> Plan:
        if not self.at("end"):
            self.fail()
        return Plan(self.query, tuple(steps), final, returning, tuple(self.params),
                    tuple(self.collections), tuple(self.operands), frozenset(self.uses))

    def declare(self, t: Token) -> str:
        if t.value in self.scope:
            raise AqlError(QUERY_VARIABLE_REDECLARED,
                           f"AQL: variable '{t.value}' is assigned multiple times (while parsing)")
        self.scope.add(t.value)
        return t.value

    def parse_for(self) -> For:
        self.next()
        name = self.expect("name", what="identifier")
        if self.at("op", ","):
            raise _unsupported("graph traversal (FOR with several variables)")
        self.expect("kw", "IN", "IN keyword")
        if self.peek().kind == "kw" and self.peek().value in ("OUTBOUND", "INBOUND", "ANY"):
            raise _unsupported("graph traversal")
        source = self.parse_expression(operand=False)
        t = self.peek()
        if t.kind == "kw" and t.value in ("OUTBOUND", "INBOUND", "ANY", "SHORTEST_PATH",
                                          "K_SHORTEST_PATHS", "K_PATHS", "ALL_SHORTEST_PATHS"):
            raise _unsupported("graph traversal")
        if t.kind == "name" and t.value.upper() == "SEARCH":
            raise _unsupported("SEARCH on views")
        if t.kind == "name" and t.value.upper() == "OPTIONS":
            self.next()
            # FOR options are index hints and the like: they change how, never what, is read.
            self.parse_options()
        var = self.declare(name)
        return For(var, source)

    def parse_sort(self) -> Sort:
        self.next()
        keys = []
        while True:
            expr = self.parse_expression()
            ascending = not self.accept("kw", "DESC")
            if ascending and not self.accept("kw", "ASC"):
                t = self.peek()
                if t.kind in ("param", "string", "int", "double") or (
                        t.kind == "kw" and t.value in ("TRUE", "FALSE", "NULL")):
                    raise _unsupported("a SORT direction given as a value")
            keys.append((expr, ascending))
            if not self.accept("op", ","):
                return Sort(tuple(keys))

    def parse_limit(self) -> Limit:
        self.next()
        first = self.parse_expression()
        offset, count = (first, self.parse_expression()) if self.accept("op", ",") else (Literal(0), first)
        if not (offset.is_constant() and count.is_constant()):
            raise _unsupported("a LIMIT value that is not a literal or bind parameter")
        return Limit(offset, count)

    def parse_return(self, top_level: bool) -> Return:
        self.next()
        distinct = self.at("kw", "DISTINCT")
        if distinct:
            if top_level:
                raise _parse_error("cannot use DISTINCT modifier on top-level query element"
                                   + _near(self.query, self.peek().pos))
            self.next()
        return Return(self.parse_expression(), distinct)

    def parse_modify(self) -> Modify:
        op = self.next().value
        doc = self.parse_expression(no_in=True)
        with_ = None
        if op in ("UPDATE", "REPLACE") and self.accept("kw", "WITH"):
            with_ = self.parse_expression(no_in=True)
        if not (self.accept("kw", "IN") or self.accept("kw", "INTO")):
            self.fail(", expecting IN keyword or INTO keyword")
        t = self.next()
        if t.kind in ("name", "string"):
            coll = CollectionRef(t.value)
        elif t.kind == "dsparam":
            coll = CollectionRef(None, self.param(t.value))
        else:
            self.fail(t=t)
        self.collections.append(coll)
        options = None
        t = self.peek()
        if t.kind == "name":
            if t.value.upper() != "OPTIONS":
                raise _parse_error(f"unexpected qualifier '{t.value}', expecting 'OPTIONS'"
                                   + _near(self.query, t.pos))
            self.next()
            options = self.parse_options()
        return Modify(op, doc, coll, with_, options)

    def parse_options(self) -> ObjectLit:
        t = self.peek()
        options = self.parse_expression()
        if not isinstance(options, ObjectLit):
            raise _parse_error("'OPTIONS' have to be an object" + _near(self.query, t.pos))
        if not options.is_constant():
            raise AqlError(QUERY_COMPILE_TIME_OPTIONS, "AQL: 'OPTIONS' have to be known at query "
                           "compile time (while parsing)")
        return options

    def param(self, name: str) -> str:
        if name not in self.params:
            self.params.append(name)
        return name

    # expressions, lowest precedence first (ArangoDB's grammar.y order)
    def parse_expression(self, no_in: bool = False, operand: bool = True) -> Expr:
        expr = self.parse_or(no_in)
        t = self.peek()
        if t.kind == "op" and t.value == "?":
            raise _unsupported("the ternary operator")
        if operand:
            self.mark_operand(expr)
        return expr

    def mark_operand(self, expr: Expr) -> None:
        if isinstance(expr, CollectionRef):
            self.operands.append(expr)

    def parse_or(self, no_in: bool) -> Expr:
        left = self.parse_and(no_in)
        while self.at("kw", "OR") or self.at("op", "||"):
            self.next()
            left = Logical("OR", self.operand(left), self.operand(self.parse_and(no_in)))
        return left

    def parse_and(self, no_in: bool) -> Expr:
        left = self.parse_equality(no_in)
        while self.at("kw", "AND") or self.at("op", "&&"):
            self.next()
            left = Logical("AND", self.operand(left), self.operand(self.parse_equality(no_in)))
        return left

    def parse_equality(self, no_in: bool) -> Expr:
        left = self.parse_in(no_in)
        while True:
            t = self.peek()
            if t.kind == "kw" and t.value in ("ANY", "ALL", "NONE"):
                raise _unsupported("array comparison operators (ANY / ALL / NONE)")
            if t.kind == "kw" and t.value == "LIKE" or t.kind == "op" and t.value in ("=~", "!~"):
                raise _unsupported(f"the {t.value} operator")
            after = self.peek(1)
            if t.kind == "kw" and t.value == "NOT" and after.kind == "kw" and after.value == "LIKE":
                raise _unsupported("the NOT LIKE operator")
            if not (t.kind == "op" and t.value in ("==", "!=")):
                return left
            self.next()
            left = Comparison(t.value, self.operand(left), self.operand(self.parse_in(no_in)))

    def parse_in(self, no_in: bool) -> Expr:
        left = self.parse_relational()
        while not no_in and (self.at("kw", "IN") or self.at("op", "NOT IN")):
            op = "IN" if self.next().kind == "kw" else "NOT IN"
            left = Comparison(op, self.operand(left), self.operand(self.parse_relational()))
        return left

    def parse_relational(self) -> Expr:
        left = self.parse_range()
        while self.peek().kind == "op" and self.peek().value in _COMPARE:
            op = self.next().value
            left = Comparison(op, self.operand(left), self.operand(self.parse_range()))
        return left

    def parse_range(self) -> Expr:
        left = self.parse_binary(("+", "-"), self.parse_multiplicative)
        while self.accept("op", ".."):
            right = self.parse_binary(("+", "-"), self.parse_multiplicative)
            left = Range(self.operand(left), self.operand(right))
        return left

    def parse_multiplicative(self) -> Expr:
        return self.parse_binary(("*", "/", "%"), self.parse_unary)

    def parse_binary(self, ops: tuple[str, ...], operand: Callable[[], Expr]) -> Expr:
        left = operand()
        while self.peek().kind == "op" and self.peek().value in ops:
            op = self.next().value
            left = Arithmetic(op, self.operand(left), self.operand(operand()))
        return left

    def operand(self, expr: Expr) -> Expr:
        self.mark_operand(expr)
        return expr

    def parse_unary(self) -> Expr:
        t = self.peek()
        if t.kind == "kw" and t.value == "NOT" or t.kind == "op" and t.value == "!":
            self.next()
            return Not(self.operand(self.parse_unary()))
        if t.kind == "op" and t.value in ("-", "+"):
            self.next()
            operand = self.operand(self.parse_unary())
            if isinstance(operand, Literal) and _rank(operand.value) == 2:
                return Literal(-operand.value if t.value == "-" else operand.value)
            return Arithmetic("-" if t.value == "-" else "+", Literal(0), operand)
        return self.parse_postfix(self.parse_primary())

    def parse_postfix(self, expr: Expr) -> Expr:
        while True:
            if self.accept("op", "."):
                t = self.next()
                if t.kind == "name":
                    expr = Attribute(self.operand(expr), t.value)
                elif t.kind == "param":
                    expr = Attribute(self.operand(expr), Param(self.param(t.value)))
                else:
                    self.fail(t=t)
            elif self.at("op", "["):
                if self.peek(1).kind == "op" and self.peek(1).value in ("*", "?"):
                    raise _unsupported("array expansion / inline filter ([*], [?])")
                self.next()
                index = self.parse_expression()
                self.expect("op", "]", "]")
                expr = Index(self.operand(expr), index)
            else:
                return expr

    def parse_primary(self) -> Expr:
        t = self.next()
        if t.kind in ("string", "int", "double"):
            return Literal(t.value)
        if t.kind == "kw" and t.value in ("NULL", "TRUE", "FALSE"):
            return Literal({"NULL": None, "TRUE": True, "FALSE": False}[t.value])
        if t.kind == "param":
            return Param(self.param(t.value))
        if t.kind == "dsparam":
            ref = CollectionRef(None, self.param(t.value))
            self.collections.append(ref)
            return ref
        if t.kind == "name" and self.at("op", "::"):
            raise _unsupported("user-defined AQL functions")
        if (t.kind == "name" or t.kind == "kw" and t.value == "LIKE") and self.at("op", "("):
            return self.parse_call(t)
        if t.kind == "name":
            if t.value in self.scope:
                if t.value in ("NEW", "OLD"):
                    self.uses.add(t.value)
                return Var(t.value)
            ref = CollectionRef(t.value)
            self.collections.append(ref)
            return ref
        if t.kind == "op" and t.value == "(":
            if self.peek().kind == "kw" and self.peek().value in (
                    "FOR", "LET", "RETURN", "INSERT", "UPDATE", "REPLACE", "REMOVE", "UPSERT", "COLLECT"):
                raise _unsupported("subqueries")
            inner = self.parse_expression()
            self.expect("op", ")", ")")
            return inner
        if t.kind == "op" and t.value == "[":
            items = []
            while not self.accept("op", "]"):
                items.append(self.parse_expression())
                if not self.accept("op", ","):
                    self.expect("op", "]", "]")
                    break
            return ArrayLit(tuple(items))
        if t.kind == "op" and t.value == "{":
            return self.parse_object()
        self.fail(t=t)

    def parse_object(self) -> ObjectLit:
        items: list[tuple[str | Expr, Expr]] = []
        while not self.accept("op", "}"):
            t = self.next()
            if t.kind == "name" and (self.at("op", ",") or self.at("op", "}")):
                if t.value not in self.scope:
                    raise AqlError(QUERY_VARIABLE_NAME_UNKNOWN, f"AQL: use of unknown variable "
                                   f"'{t.value}' in object literal (while parsing)")
                if t.value in ("NEW", "OLD"):
                    self.uses.add(t.value)
                items.append((t.value, Var(t.value)))
            else:
                if t.kind in ("name", "string"):
                    key: str | Expr = t.value
                elif t.kind == "param":
                    key = Param(self.param(t.value))
                elif t.kind == "op" and t.value == "[":
                    key = self.parse_expression()
                    self.expect("op", "]", "]")
                else:
                    self.fail(t=t)
                self.expect("op", ":", ":")
                items.append((key, self.parse_expression()))
            if not self.accept("op", ","):
                self.expect("op", "}", "}")
                break
        return ObjectLit(tuple(items))

    def parse_call(self, name: Token) -> Expr:
        self.expect("op", "(")
        args: list[Expr] = []
        while not self.accept("op", ")"):
            if self.peek().kind == "kw" and self.peek().value in ("FOR", "LET", "RETURN"):
                raise _unsupported("subqueries")
            # A collection may be a function argument (LENGTH(users)); not an operand elsewhere.
            args.append(self.parse_expression(operand=False))
            if not self.accept("op", ","):
                self.expect("op", ")", ")")
                break
        fname = name.value.upper()
        if fname not in ("LENGTH", "COUNT"):
            raise _unsupported(f"the AQL function {fname}()")
        if len(args) != 1:
            raise AqlError(QUERY_FUNCTION_ARGUMENT_NUMBER_MISMATCH, f"AQL: invalid number of "
                           f"arguments for function '{fname}()', expected number of arguments: "
                           "minimum: 1, maximum: 1 (while parsing)")
        return Length(args[0])


def parse(query: str) -> Plan:
    """Parse ``query`` into a plan; raises :class:`AqlError` for bad or unsupported AQL."""
    if not query.strip():
        raise AqlError(QUERY_EMPTY, "AQL: query is empty (while parsing)")
    return _Parser(query).parse()


# --------------------------------------------------------------------------- evaluator

def _check_bind_vars(plan: Plan, bind_vars: dict) -> None:
    for name in plan.bind_params:
        if name not in bind_vars:
            raise AqlError(QUERY_BIND_PARAMETER_MISSING, f"AQL: no value specified for declared "
                           f"bind parameter '{name}' (while parsing)")
    for name in bind_vars:
        if name not in plan.bind_params:
            raise AqlError(QUERY_BIND_PARAMETER_UNDECLARED, f"AQL: bind parameter '{name}' was not "
                           "declared in the query (while parsing)")


def _limit_value(expr: Expr, rt: _Runtime, what: str) -> int:
    value = expr.evaluate({}, rt)
    if _rank(value) != 2 or value < 0:
        raise AqlError(QUERY_NUMBER_OUT_OF_RANGE,
                       f"AQL: LIMIT {what} value is not a number or out of range (while executing)")
    return int(value)


def _rows(plan: Plan, rt: _Runtime) -> Iterator[dict]:
    rows: Iterator[dict] = iter([{}])
    for step in plan.steps:
        rows = _apply(step, rows, rt)
    return rows


def _apply(step: Step, rows: Iterator[dict], rt: _Runtime) -> Iterator[dict]:
    if isinstance(step, For):
        return _for(step, rows, rt)
    if isinstance(step, Let):
        return ({**row, step.var: step.expr.evaluate(row, rt)} for row in rows)
    if isinstance(step, Filter):
        return (row for row in rows if truthy(step.expr.evaluate(row, rt)))
    if isinstance(step, Sort):
        return iter(_sorted(step, rows, rt))
    offset = _limit_value(step.offset, rt, "offset")
    count = _limit_value(step.count, rt, "count")
    return islice(rows, offset, offset + count)


def _for(step: For, rows: Iterator[dict], rt: _Runtime) -> Iterator[dict]:
    for row in rows:
        if isinstance(step.source, CollectionRef):
            items: Iterable[Any] = rt.ctx.iter_documents(rt.collection_name(step.source))
        elif isinstance(step.source, Range):
            items = step.source.values(row, rt)  # lazily: FOR i IN 1..1000000 needs no list
        else:
            items = step.source.evaluate(row, rt)
            if not isinstance(items, list):
                raise AqlError(QUERY_ARRAY_EXPECTED, "AQL: collection or array expected as operand "
                               f"to FOR loop; you provided a value of type '{_type_name(items)}' "
                               "(while executing)")
        for item in items:
            yield {**row, step.var: item}


def _type_name(v: Any) -> str:
    return ("null", "bool", "number", "string", "array", "object")[_rank(v)]


def _sorted(step: Sort, rows: Iterator[dict], rt: _Runtime) -> list[dict]:
    keyed = [([e.evaluate(row, rt) for e, _ in step.keys], row) for row in rows]
    directions = [asc for _, asc in step.keys]

    def cmp(a: tuple[list, dict], b: tuple[list, dict]) -> int:
        for x, y, asc in zip(a[0], b[0], directions):
            c = compare(x, y)
            if c:
                return c if asc else -c
        return 0

    keyed.sort(key=functools.cmp_to_key(cmp))  # stable, as ArangoDB's sort is for equal keys
    return [row for _, row in keyed]


def _distinct(values: list) -> list:
    seen: set = set()
    out = []
    for v in values:
        k = canonical(v)
        if k not in seen:
            seen.add(k)
            out.append(v)
    return out


@dataclass
class QueryStats:
    """Counters of a cursor's ``extra.stats`` that only the evaluator knows; filled by :func:`execute`."""

    writes_executed: int = 0
    writes_ignored: int = 0


def _ignorable(exc: ArangoError) -> bool:
    # OPTIONS {ignoreErrors: true} skips errors of single documents (conflicts, missing or bad
    # documents, unique constraints, schema), never a missing collection or a permission error.
    return (1200 <= exc.error_num < 1300 and exc.error_num not in (DATA_SOURCE_NOT_FOUND, 1228)
            or exc.error_num == 1620)


async def execute(plan: Plan, bind_vars: dict, ctx: AqlContext, stats: QueryStats | None = None) -> list:
    """Run ``plan``; returns the result documents. Raises :class:`AqlError`.

    Every check that does not depend on storage (bind parameters, collections, LIMIT values,
    document types) happens before the first write, so a refused query writes nothing. Storage
    errors during writes leave earlier writes of the query done: the context decides whether they
    stay (the stand-in runs each query in a transaction that it aborts when this raises).
    """
    _check_bind_vars(plan, bind_vars)
    rt = _Runtime(bind_vars, ctx)
    names = {ref: rt.collection_name(ref) for ref in plan.collections}
    for name in dict.fromkeys(names.values()):
        ctx.count(name)  # raises 1203 for an unknown collection, before anything runs
    if plan.operand_collections:
        ref = plan.operand_collections[0]
        raise AqlError(QUERY_COLLECTION_USED_IN_EXPRESSION,
                       f"AQL: collection '{names[ref]}' used as expression operand (while parsing)")
    rows = _rows(plan, rt)
    if isinstance(plan.final, Return):
        values = [plan.final.expr.evaluate(row, rt) for row in rows]
        return _distinct(values) if plan.final.distinct else values
    return await _modify(plan, plan.final, list(rows), rt, stats or QueryStats())


async def _modify(plan: Plan, mod: Modify, rows: list[dict], rt: _Runtime, stats: QueryStats) -> list:
    options = mod.options.evaluate({}, rt) if mod.options else {}
    ignore_errors = truthy(options.pop("ignoreErrors", False))
    if "NEW" in plan.uses:
        options["returnNew"] = True
    if "OLD" in plan.uses:
        options["returnOld"] = True
    collection = rt.collection_name(mod.collection)
    # Evaluate and check every operation before the first write.
    pending: list[tuple[dict, Any, Any] | AqlError] = []
    for row in rows:
        try:
            pending.append((row, *_operands(mod, row, rt)))
        except AqlError as exc:
            if not ignore_errors:
                raise
            pending.append(exc)
    out = []
    for item in pending:
        if isinstance(item, AqlError):
            stats.writes_ignored += 1
            continue
        row, target, body = item
        try:
            result = await _write(rt.ctx, mod.op, collection, target, body, dict(options))
        except ArangoError as exc:
            if ignore_errors and _ignorable(exc):
                stats.writes_ignored += 1
                continue
            if isinstance(exc, AqlError):
                raise
            raise AqlError(exc.error_num, f"AQL: {exc.message} (while executing)", exc.http_code) from exc
        stats.writes_executed += 1
        if plan.returning is not None:
            scope = {**row, "NEW": result.get("new"), "OLD": result.get("old")}
            out.append(plan.returning.expr.evaluate(scope, rt))
    if plan.returning is not None and plan.returning.distinct:
        return _distinct(out)
    return out


def _operands(mod: Modify, row: dict, rt: _Runtime) -> tuple[Any, Any]:
    value = mod.doc.evaluate(row, rt)
    if mod.op == "INSERT":
        return _document(value), None
    if mod.with_ is not None:
        return _key_or_doc(value), _document(mod.with_.evaluate(row, rt))
    target = _key_or_doc(value)
    if mod.op == "REMOVE":
        return target, None
    if not isinstance(target, dict):
        raise AqlError(DOCUMENT_TYPE_INVALID, "AQL: invalid document type (while executing)")
    return target, target


def _document(value: Any) -> dict:
    if not isinstance(value, dict):
        raise AqlError(DOCUMENT_TYPE_INVALID, "AQL: invalid document type (while executing)")
    return value


def _key_or_doc(value: Any) -> Any:
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        if not isinstance(value.get("_key"), str):
            raise AqlError(DOCUMENT_KEY_MISSING, "AQL: missing document key (while executing)")
        return value
    raise AqlError(DOCUMENT_TYPE_INVALID, "AQL: invalid document type (while executing)")


async def _write(ctx: AqlContext, op: str, collection: str, target: Any, body: Any, options: dict) -> dict:
    if op == "INSERT":
        return await ctx.insert(collection, target, options)
    if op == "UPDATE":
        return await ctx.update(collection, target, body, options)
    if op == "REPLACE":
        return await ctx.replace(collection, target, body, options)
    return await ctx.remove(collection, target, options)
