"""The small AQL subset the ArangoDB stand-in answers through ``/_api/cursor``.

:func:`parse` turns a query into a :class:`Plan` (tokens: ``aql_lexer``, grammar: ``aql_parser``,
plan and expression nodes: ``aql_nodes``, AQL's value order and equality: ``aql_values``);
:func:`execute`, here, runs the plan against an :class:`AqlContext` (the stand-in's storage).
Supported::

    [FOR v IN <collection | @@c | expression> [OPTIONS {...}]]...   (nested loops)
    [LET v = expr] [FILTER expr] [SORT expr [ASC|DESC], ...] [LIMIT [offset,] count] ...
    RETURN [DISTINCT] expr
    INSERT|UPDATE|REPLACE|REMOVE expr [WITH expr] IN|INTO <collection> [OPTIONS {...}]
        [RETURN [DISTINCT] expr]                                      (NEW / OLD available)

Expressions: literals, bind parameters, variables, attribute paths (``d.a.b``, ``d.@attr``,
``d["x"]``, ``arr[0]``), array and object literals, ``== != < <= > >= IN NOT IN``,
``AND OR NOT`` (with ArangoDB's precedence: ``NOT`` binds tighter than comparisons),
``+ - * / %`` on numbers, integer ranges ``1..n``, the ternary ``a ? b : c`` / ``a ?: c``, and the
functions ``LENGTH()`` / ``COUNT()`` (also of a collection), ``HAS()``, ``RAND()`` and ``SLEEP()``
(``aql_functions``; a query's SLEEPs add up and are awaited once, after it has run).

Everything else that ArangoDB accepts (COLLECT, subqueries, other functions, graph traversals,
UPSERT, arithmetic on non-numbers, ...) raises :class:`AqlError` with ``ERROR_NOT_IMPLEMENTED``
(9, HTTP 501): the stand-in refuses rather than answering wrongly. The same holds for ordering
strings outside printable ASCII: ArangoDB orders strings with an ICU collator, which is
reproduced here only for printable ASCII.

Error numbers and HTTP codes are ArangoDB's (lib/Basics/errors.dat and
GeneralResponse::responseCode); messages follow its "AQL: ... (while parsing)" form.
"""
from __future__ import annotations

import asyncio
import functools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import islice
from typing import Any

from .aql_errors import (
    QUERY_ARRAY_EXPECTED,
    QUERY_BIND_PARAMETER_UNDECLARED,
    QUERY_COLLECTION_USED_IN_EXPRESSION,
    QUERY_NUMBER_OUT_OF_RANGE,
    AqlError,
)
from .aql_nodes import (
    AqlContext,
    CollectionRef,
    Expr,
    Filter,
    For,
    Let,
    Modify,
    Plan,
    Range,
    Return,
    Runtime,
    Sort,
    Step,
)
from .aql_parser import parse
from .aql_values import canonical, compare, rank, truthy, type_name
from .errors import (
    DATA_SOURCE_NOT_FOUND,
    DOCUMENT_KEY_MISSING,
    DOCUMENT_TYPE_INVALID,
    QUERY_BIND_PARAMETER_MISSING,
    ArangoError,
)

__all__ = ["AqlContext", "AqlError", "Plan", "QueryStats", "execute", "parse"]


def _check_bind_vars(plan: Plan, bind_vars: dict) -> None:
    for name in plan.bind_params:
        if name not in bind_vars:
            raise AqlError(QUERY_BIND_PARAMETER_MISSING, f"AQL: no value specified for declared "
                           f"bind parameter '{name}' (while parsing)")
    for name in bind_vars:
        if name not in plan.bind_params:
            raise AqlError(QUERY_BIND_PARAMETER_UNDECLARED, f"AQL: bind parameter '{name}' was not "
                           "declared in the query (while parsing)")


def _limit_value(expr: Expr, rt: Runtime, what: str) -> int | None:
    value = expr.evaluate({}, rt)
    if value is None and what == "count":
        return None  # ArangoDB reads a null count as "no limit"; python-arango's all() sends LIMIT 0, null
    if rank(value) != 2 or value < 0:
        raise AqlError(QUERY_NUMBER_OUT_OF_RANGE,
                       f"AQL: LIMIT {what} value is not a number or out of range (while executing)")
    return int(value)


def _rows(plan: Plan, rt: Runtime) -> Iterator[dict]:
    rows: Iterator[dict] = iter([{}])
    for step in plan.steps:
        rows = _apply(step, rows, rt)
    return rows


def _apply(step: Step, rows: Iterator[dict], rt: Runtime) -> Iterator[dict]:
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
    return islice(rows, offset, None if count is None else offset + count)


def _for(step: For, rows: Iterator[dict], rt: Runtime) -> Iterator[dict]:
    for row in rows:
        if isinstance(step.source, CollectionRef):
            items: Iterable[Any] = rt.ctx.iter_documents(rt.collection_name(step.source))
        elif isinstance(step.source, Range):
            items = step.source.values(row, rt)  # lazily: FOR i IN 1..1000000 needs no list
        else:
            items = step.source.evaluate(row, rt)
            if not isinstance(items, list):
                raise AqlError(QUERY_ARRAY_EXPECTED, "AQL: collection or array expected as operand "
                               f"to FOR loop; you provided a value of type '{type_name(items)}' "
                               "(while executing)")
        for item in items:
            yield {**row, step.var: item}


def _sorted(step: Sort, rows: Iterator[dict], rt: Runtime) -> list[dict]:
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
    rt = Runtime(bind_vars, ctx)
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
        result = _distinct(values) if plan.final.distinct else values
    else:
        result = await _modify(plan, plan.final, list(rows), rt, stats or QueryStats())
    if rt.sleep_seconds:
        await asyncio.sleep(rt.sleep_seconds)
    return result


async def _modify(plan: Plan, mod: Modify, rows: list[dict], rt: Runtime, stats: QueryStats) -> list:
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


def _operands(mod: Modify, row: dict, rt: Runtime) -> tuple[Any, Any]:
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
