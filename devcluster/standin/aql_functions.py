"""The few AQL functions besides ``LENGTH()`` that the stand-in evaluates: ``HAS``, ``RAND``,
``SLEEP``, and the collection functions ``NEAR`` / ``WITHIN`` (``aql_geo``) and ``FULLTEXT``
(``aql_fulltext``).

They are the ones python-arango's helpers send (``collection.find()`` filters nested attributes
with ``HAS``, ``collection.random()`` sorts by ``RAND()``, ``find_near()`` / ``find_in_radius()``
loop over ``NEAR()`` / ``WITHIN()``, ``find_by_text()`` over ``FULLTEXT()``) and that clients use to make a query take time (``SLEEP``).
Semantics follow ArangoDB's AQL documentation (functions/document-object, functions/numeric,
functions/miscellaneous, functions/geo).
"""
from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import aql_fulltext, aql_geo
from .aql_errors import (
    QUERY_FUNCTION_ARGUMENT_NUMBER_MISMATCH,
    QUERY_FUNCTION_ARGUMENT_TYPE_MISMATCH,
    AqlError,
)
from .aql_nodes import CollectionRef, Expr, Runtime
from .aql_values import rank
from .errors import NOT_IMPLEMENTED


def _has(args: list[Any], rt: Runtime) -> bool:
    value, name = args
    if not isinstance(value, dict):
        return False  # HAS() of a non-object is false, not an error
    if not isinstance(name, str):
        raise AqlError(NOT_IMPLEMENTED, "AQL: HAS() with a non-string attribute name is not supported "
                       "by the dc2dc ArangoDB stand-in (while executing)")
    return name in value


def _rand(args: list[Any], rt: Runtime) -> float:
    return random.random()


def _sleep(args: list[Any], rt: Runtime) -> None:
    seconds = args[0]
    # ArangoDB answers a non-numeric or negative duration with a warning and null, not a wait
    if rank(seconds) == 2 and seconds >= 0:
        rt.sleep_seconds += float(seconds)


@dataclass(frozen=True)
class _Function:
    min_args: int
    max_args: int
    impl: Callable[[list[Any], Runtime], Any]
    deterministic: bool
    on_collection: bool = False  # the first argument names a collection (a name or @@param)


def _collection_function(impl: Callable[[str, list[Any], Runtime], Any]) -> Callable[[list[Any], Runtime], Any]:
    def call(args: list[Any], rt: Runtime) -> Any:
        return impl(args[0], args[1:], rt)
    return call


FUNCTIONS: dict[str, _Function] = {
    "HAS": _Function(2, 2, _has, True),
    "RAND": _Function(0, 0, _rand, False),
    "SLEEP": _Function(1, 1, _sleep, False),
    "NEAR": _Function(3, 5, _collection_function(aql_geo.near), False, on_collection=True),
    "WITHIN": _Function(4, 5, _collection_function(aql_geo.within), False, on_collection=True),
    "FULLTEXT": _Function(3, 4, _collection_function(aql_fulltext.fulltext), False, on_collection=True),
}


@dataclass(frozen=True)
class Call(Expr):
    """A call of one of :data:`FUNCTIONS`; arguments are evaluated first, left to right."""

    name: str
    args: tuple[Expr, ...]

    def evaluate(self, row: dict, rt: Runtime) -> Any:
        fn = FUNCTIONS[self.name]
        args = [self._collection(row, rt) if fn.on_collection and i == 0 else a.evaluate(row, rt)
                for i, a in enumerate(self.args)]
        return fn.impl(args, rt)

    def _collection(self, row: dict, rt: Runtime) -> str:
        arg = self.args[0]
        name = rt.collection_name(arg) if isinstance(arg, CollectionRef) else arg.evaluate(row, rt)
        if not isinstance(name, str):
            raise AqlError(QUERY_FUNCTION_ARGUMENT_TYPE_MISMATCH, f"AQL: invalid argument type in call "
                           f"to function '{self.name}()' (while executing)")
        return name

    def is_constant(self) -> bool:
        return FUNCTIONS[self.name].deterministic and all(a.is_constant() for a in self.args)


def make_call(name: str, args: list[Expr]) -> Call:
    """``Call`` of ``name`` (upper case, one of :data:`FUNCTIONS`) after ArangoDB's arity check."""
    fn = FUNCTIONS[name]
    if not fn.min_args <= len(args) <= fn.max_args:
        raise AqlError(QUERY_FUNCTION_ARGUMENT_NUMBER_MISMATCH, f"AQL: invalid number of arguments "
                       f"for function '{name}()', expected number of arguments: minimum: "
                       f"{fn.min_args}, maximum: {fn.max_args} (while parsing)")
    return Call(name, tuple(args))
