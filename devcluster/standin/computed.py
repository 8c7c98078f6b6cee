"""Computed values: collection-level AQL expressions (`RETURN <expr>` over `@doc`) whose results
are written into documents on insert / update / replace, evaluated with the stand-in's AQL."""
from __future__ import annotations

import functools
from typing import Any, Coroutine

from . import aql, errors

_OPS = ("insert", "update", "replace")
_FORBIDDEN_NAMES = ("_key", "_id", "_rev", "_from", "_to")


class _NoStorage:
    """Computed value expressions must not touch collections; any attempt is an error."""

    def _refuse(self, *_: Any) -> Any:
        raise aql.AqlError(errors.BAD_PARAMETER, "computed value expressions cannot access collections", 400)

    iter_documents = count = _refuse

    async def insert(self, *_: Any) -> dict:
        return self._refuse()

    update = replace = remove = insert


def _run(coro: Coroutine[Any, Any, list]) -> list:
    """Drive an AQL evaluation that performs no I/O (no collection access) to completion."""
    try:
        coro.send(None)
    except StopIteration as done:
        return done.value
    coro.close()
    raise errors.ArangoError(errors.INTERNAL, "computed value expression did not complete", 500)


@functools.lru_cache(maxsize=256)
def _plan(expression: str) -> aql.Plan:
    return aql.parse(expression)


def normalise(values: object) -> list[dict] | None:
    """Validate and complete a `computedValues` definition (None or [] removes them)."""
    if not values:
        return None
    if not isinstance(values, list):
        raise errors.ArangoError(errors.BAD_PARAMETER, "computedValues must be an array", 400)
    out = []
    for cv in values:
        if not isinstance(cv, dict) or not isinstance(cv.get("name"), str) or not isinstance(cv.get("expression"), str):
            raise errors.ArangoError(errors.BAD_PARAMETER, "invalid computed value definition", 400)
        if cv["name"] in _FORBIDDEN_NAMES:
            raise errors.ArangoError(errors.BAD_PARAMETER, f"cannot compute system attribute '{cv['name']}'", 400)
        compute_on = cv.get("computeOn", list(_OPS))
        if not isinstance(compute_on, list) or not set(compute_on) <= set(_OPS) or not compute_on:
            raise errors.ArangoError(errors.BAD_PARAMETER, "invalid computeOn", 400)
        plan = _plan(cv["expression"])
        if plan.collections or plan.modifies or set(plan.bind_params) - {"doc"}:
            raise errors.ArangoError(errors.BAD_PARAMETER,
                                     "computed value expressions may only use @doc", 400)
        out.append({"name": cv["name"], "expression": cv["expression"], "overwrite": bool(cv.get("overwrite")),
                    "computeOn": compute_on, "keepNull": cv.get("keepNull", True) is not False,
                    "failOnWarning": bool(cv.get("failOnWarning", False))})
    return out


def apply(values: list[dict] | None, doc: dict, op: str) -> dict:
    """`doc` with the computed values for `op` filled in (a new dict when anything changed)."""
    if not values:
        return doc
    out = doc
    for cv in values:
        if op not in cv["computeOn"] or (not cv["overwrite"] and cv["name"] in doc):
            continue
        result = _run(aql.execute(_plan(cv["expression"]), {"doc": doc}, _NoStorage()))
        value = result[0] if result else None
        if out is doc:
            out = dict(doc)
        if value is None and not cv["keepNull"]:
            out.pop(cv["name"], None)
        else:
            out[cv["name"]] = value
    return out
