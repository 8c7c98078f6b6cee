"""The requests a structure apply makes, and how it compares what a destination reports with a snapshot.

Every change goes through ``StructureClient.change``, which tolerates the error numbers that mean
"already as wanted" (a replayed apply) and records what it changed, so ``StructureApplier.apply``
can say what one snapshot changed (nothing, the second time).
"""

from __future__ import annotations

import logging
from typing import Any

import orjson

from dc2dc.pipeline.arango.http import ArangoHttp
from dc2dc.pipeline.errors import ArangoError, Dc2dcError

log = logging.getLogger(__name__)

SYSTEM_DB = "_system"


class StructureError(Dc2dcError):
    """The destination holds an object that cannot be made to match the snapshot without losing data."""


class StructureClient:
    """Structure requests to one destination coordinator, and the changes made since ``reset``."""

    def __init__(self, http: ArangoHttp) -> None:
        self.http = http
        self.actions: list[str] = []

    def reset(self) -> None:
        self.actions = []

    async def change(self, method: str, path: str, action: str, *, db: str | None = None, json: Any = None,
                     params: dict[str, Any] | None = None, ok: set[int] | frozenset[int] = frozenset()) -> None:
        """A change request; error numbers in ``ok`` mean "already as wanted" (idempotent replay)."""
        try:
            await self.http.request(method, path, db=db, json=json, params=params)
        except ArangoError as exc:
            if exc.error_num not in ok:
                raise
            return
        log.info("structure: %s", action)
        self.actions.append(action)

    async def get(self, path: str, *, db: str | None = None, params: dict[str, Any] | None = None) -> Any:
        return (await self.http.request("GET", path, db=db, params=params)).json()


def covers(actual: Any, desired: Any) -> bool:
    """True when ``actual`` has every value ``desired`` asks for (servers add defaults to what they report)."""
    if isinstance(desired, dict) and isinstance(actual, dict):
        return all(k in actual and covers(actual[k], v) for k, v in desired.items())
    if isinstance(desired, list) and isinstance(actual, list):
        return len(desired) == len(actual) and all(covers(a, d) for a, d in zip(actual, desired))
    return bool(actual == desired)


def same_members(actual: list[Any], desired: list[Any]) -> bool:
    """Order-insensitive equality of two JSON lists (graph definitions come back in any order)."""
    key = lambda v: orjson.dumps(v, option=orjson.OPT_SORT_KEYS)  # noqa: E731
    return sorted(map(key, actual)) == sorted(map(key, desired))


def differs(actual: dict[str, Any], desired: dict[str, Any], keys: tuple[str, ...] | None = None) -> list[str]:
    """Keys whose desired value the destination does not have (keys it does not report are not compared)."""
    names = keys if keys is not None else tuple(desired)
    return [k for k in names if k in desired and k in actual and not covers(actual[k], desired[k])]
