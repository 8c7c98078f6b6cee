"""The parsed form of a query: expression nodes that evaluate themselves, and the plan steps."""
from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from .aql_errors import QUERY_BIND_PARAMETER_TYPE, QUERY_COLLECTION_USED_IN_EXPRESSION, AqlError
from .aql_values import compare, equal, rank, truthy, type_name
from .errors import NOT_IMPLEMENTED


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
    def indexes(self, collection: str) -> list[dict]: ...
    async def insert(self, collection: str, doc: dict, options: dict) -> dict: ...
    async def update(self, collection: str, key_or_doc: Any, changes: dict, options: dict) -> dict: ...
    async def replace(self, collection: str, key_or_doc: Any, doc: dict, options: dict) -> dict: ...
    async def remove(self, collection: str, key_or_doc: Any, options: dict) -> dict: ...


class Runtime:
    """What expressions read at execution time besides the current row."""

    def __init__(self, bind_vars: dict, ctx: AqlContext) -> None:
        self.bind_vars = bind_vars
        self.ctx = ctx
        # SLEEP() adds up here; the executor awaits the total, so no wait blocks the event loop
        self.sleep_seconds = 0.0

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
    def evaluate(self, row: dict, rt: Runtime) -> Any:
        raise NotImplementedError

    def is_constant(self) -> bool:
        """True if the value needs no variables (literals and bind parameters only)."""
        return False


@dataclass(frozen=True)
class Literal(Expr):
    value: Any

    def evaluate(self, row: dict, rt: Runtime) -> Any:
        return self.value

    def is_constant(self) -> bool:
        return True


@dataclass(frozen=True)
class Param(Expr):
    name: str

    def evaluate(self, row: dict, rt: Runtime) -> Any:
        return rt.bind_vars[self.name]

    def is_constant(self) -> bool:
        return True


@dataclass(frozen=True)
class Var(Expr):
    name: str

    def evaluate(self, row: dict, rt: Runtime) -> Any:
        return row[self.name]


@dataclass(frozen=True)
class CollectionRef(Expr):
    """A collection named in the query (``name="users"``) or bound (``@@coll``: ``param="@coll"``)."""

    name: str | None
    param: str | None = None

    def evaluate(self, row: dict, rt: Runtime) -> Any:
        # Plans are checked before running, so a collection only reaches here through a bug.
        raise AqlError(QUERY_COLLECTION_USED_IN_EXPRESSION,
                       f"AQL: collection '{rt.collection_name(self)}' used as expression operand "
                       "(while executing)")


@dataclass(frozen=True)
class Attribute(Expr):
    base: Expr
    name: str | Expr  # an Expr for ``d.@attr``

    def evaluate(self, row: dict, rt: Runtime) -> Any:
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

    def evaluate(self, row: dict, rt: Runtime) -> Any:
        value, idx = self.base.evaluate(row, rt), self.index.evaluate(row, rt)
        if isinstance(value, dict) and isinstance(idx, str):
            return value.get(idx)
        if isinstance(value, list) and rank(idx) == 2 and float(idx).is_integer():
            i = int(idx)
            return value[i] if -len(value) <= i < len(value) else None
        if value is None or (not isinstance(value, (list, dict))):
            return None
        raise AqlError(NOT_IMPLEMENTED, f"AQL: indexing an {type(value).__name__} with "
                       f"{idx!r} is not supported by the dc2dc ArangoDB stand-in (while executing)")


@dataclass(frozen=True)
class ArrayLit(Expr):
    items: tuple[Expr, ...]

    def evaluate(self, row: dict, rt: Runtime) -> Any:
        return [e.evaluate(row, rt) for e in self.items]

    def is_constant(self) -> bool:
        return all(e.is_constant() for e in self.items)


@dataclass(frozen=True)
class ObjectLit(Expr):
    items: tuple[tuple[str | Expr, Expr], ...]  # key is an Expr for ``[expr]: v`` and ``@k: v``

    def evaluate(self, row: dict, rt: Runtime) -> Any:
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

    def evaluate(self, row: dict, rt: Runtime) -> Any:
        return not truthy(self.operand.evaluate(row, rt))

    def is_constant(self) -> bool:
        return self.operand.is_constant()


@dataclass(frozen=True)
class Logical(Expr):
    """AND / OR return one of their operands, like JavaScript's ``&&`` / ``||``."""

    op: str
    left: Expr
    right: Expr

    def evaluate(self, row: dict, rt: Runtime) -> Any:
        left = self.left.evaluate(row, rt)
        if truthy(left) == (self.op == "OR"):
            return left
        return self.right.evaluate(row, rt)

    def is_constant(self) -> bool:
        return self.left.is_constant() and self.right.is_constant()


ORDER_TESTS = {"<": lambda c: c < 0, "<=": lambda c: c <= 0, ">": lambda c: c > 0, ">=": lambda c: c >= 0}


@dataclass(frozen=True)
class Comparison(Expr):
    op: str  # == != < <= > >= IN NOT IN
    left: Expr
    right: Expr

    def evaluate(self, row: dict, rt: Runtime) -> Any:
        left, right = self.left.evaluate(row, rt), self.right.evaluate(row, rt)
        if self.op == "==":
            return equal(left, right)
        if self.op == "!=":
            return not equal(left, right)
        if self.op in ("IN", "NOT IN"):
            found = isinstance(right, list) and any(equal(left, x) for x in right)
            return found if self.op == "IN" else not found
        return ORDER_TESTS[self.op](compare(left, right))

    def is_constant(self) -> bool:
        return self.left.is_constant() and self.right.is_constant()


_MAX_EXACT = 2 ** 53  # ArangoDB computes with doubles, exact for integers below this


def _arith_operand(value: Any, op: str) -> int | float:
    if rank(value) != 2:
        raise AqlError(NOT_IMPLEMENTED, f"AQL: the operator {op} on a value of type "
                       f"'{type_name(value)}' (which AQL would convert to a number) is not "
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

    def evaluate(self, row: dict, rt: Runtime) -> Any:
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

    def values(self, row: dict, rt: Runtime) -> range:
        bounds = []
        for expr in (self.low, self.high):
            v = expr.evaluate(row, rt)
            if rank(v) != 2 or not float(v).is_integer():
                raise AqlError(NOT_IMPLEMENTED, f"AQL: a range bound of {v!r} (not an integer) is "
                               "not supported by the dc2dc ArangoDB stand-in (while executing)")
            bounds.append(int(v))
        low, high = bounds
        return range(low, high + 1) if low <= high else range(low, high - 1, -1)

    def evaluate(self, row: dict, rt: Runtime) -> Any:
        values = self.values(row, rt)
        if len(values) > _MAX_RANGE:
            raise AqlError(NOT_IMPLEMENTED, f"AQL: an array of more than {_MAX_RANGE} values from a "
                           "range is not supported by the dc2dc ArangoDB stand-in (while executing)")
        return list(values)

    def is_constant(self) -> bool:
        return self.low.is_constant() and self.high.is_constant()


@dataclass(frozen=True)
class Ternary(Expr):
    """``cond ? then : otherwise``, and ``cond ?: otherwise`` (then = the condition's value)."""

    cond: Expr
    then: Expr | None
    otherwise: Expr

    def evaluate(self, row: dict, rt: Runtime) -> Any:
        value = self.cond.evaluate(row, rt)
        if truthy(value):
            return value if self.then is None else self.then.evaluate(row, rt)
        return self.otherwise.evaluate(row, rt)

    def is_constant(self) -> bool:
        return (self.cond.is_constant() and (self.then is None or self.then.is_constant())
                and self.otherwise.is_constant())


@dataclass(frozen=True)
class Length(Expr):
    """``LENGTH(x)`` / ``COUNT(x)``: documents in a collection, or the length of a value."""

    arg: Expr

    def evaluate(self, row: dict, rt: Runtime) -> Any:
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

