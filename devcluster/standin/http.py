"""A small router over aiohttp for ArangoDB's path scheme (`/_db/<name>/...` prefix, percent-
encoded Unicode names), the request context handlers receive, and response helpers."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable
from urllib.parse import unquote

import orjson
from aiohttp import web

from . import errors
from .auth import Principal
from .model import COORDINATOR, PRIMARY, SINGLE, Cluster, Database, Server

COORD = frozenset({COORDINATOR, SINGLE})   # coordinator-only APIs (and single server)
DBSERVER = frozenset({PRIMARY, SINGLE})    # DBServer-only APIs (and single server)
ANY = frozenset({COORDINATOR, PRIMARY, SINGLE})


@dataclass
class Ctx:
    request: web.Request
    cluster: Cluster
    server: Server
    db_name: str
    path: str
    params: dict[str, str]
    who: Principal
    _body: Any = field(default=None)
    _body_read: bool = False

    @property
    def query(self) -> Any:
        return self.request.query

    @property
    def db(self) -> Database:
        return self.cluster.database(self.db_name)

    async def raw(self) -> bytes:
        return await self.request.read()

    async def json(self, default: Any = None) -> Any:
        if not self._body_read:
            data = await self.request.read()
            self._body_read = True
            if not data.strip():
                self._body = default
            else:
                try:
                    self._body = orjson.loads(data)
                except orjson.JSONDecodeError as exc:
                    raise errors.ArangoError(errors.HTTP_CORRUPTED_JSON, f"VPackError error: {exc}", 400)
        return self._body

    def flag(self, name: str, default: bool = False) -> bool:
        value = self.request.query.get(name)
        if value is None:
            return default
        return value.lower() in ("true", "1", "yes", "on", "")

    def int_param(self, name: str, default: int) -> int:
        value = self.request.query.get(name)
        if value is None or value == "":
            return default
        try:
            return int(value)
        except ValueError:
            raise errors.ArangoError(errors.BAD_PARAMETER, f"invalid value for parameter '{name}'", 400)


Handler = Callable[[Ctx], Awaitable[web.StreamResponse]]


@dataclass
class Route:
    method: str
    segments: tuple[str, ...]
    handler: Handler
    roles: frozenset[str]
    public: bool = False


class Router:
    def __init__(self) -> None:
        self.routes: list[Route] = []

    def add(self, method: str, pattern: str, handler: Handler, roles: frozenset[str] = COORD,
            public: bool = False) -> None:
        segs = tuple(s for s in pattern.split("/") if s)
        for m in method.split("|"):
            self.routes.append(Route(m, segs, handler, roles, public))

    def match(self, method: str, parts: list[str]) -> tuple[Route | None, dict[str, str], bool]:
        """(route, params, path_known); path_known is True when only the method did not match."""
        path_known = False
        for route in self.routes:
            params = _match(route.segments, parts)
            if params is None:
                continue
            if route.method == method or (method == "HEAD" and route.method == "GET"):
                return route, params, True
            path_known = True
        return None, {}, path_known


def _match(segs: tuple[str, ...], parts: list[str]) -> dict[str, str] | None:
    params: dict[str, str] = {}
    for i, seg in enumerate(segs):
        if seg.startswith("{") and seg.endswith("*}"):
            params[seg[1:-2]] = "/".join(parts[i:])
            return params
        if i >= len(parts):
            return None
        if seg.startswith("{"):
            params[seg[1:-1]] = parts[i]
        elif seg != parts[i]:
            return None
    return params if len(parts) == len(segs) else None


def split_path(raw_path: str) -> tuple[str, list[str]]:
    """('db name', decoded path segments after the optional /_db/<name> prefix)."""
    path = raw_path.split("?", 1)[0]
    parts = [unquote(p) for p in path.split("/") if p]
    db = "_system"
    if len(parts) >= 2 and parts[0] == "_db":
        db = parts[1]
        parts = parts[2:]
    return db, parts


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(body=orjson.dumps(body), status=status, headers=headers,
                        content_type="application/json", charset="utf-8")


def ok(body: dict, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return json_response({"error": False, "code": status, **body}, status, headers)


def error_response(err: errors.ArangoError, headers: dict[str, str] | None = None) -> web.Response:
    return json_response(err.body(), err.http_code, headers)
