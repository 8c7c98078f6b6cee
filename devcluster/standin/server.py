"""The running stand-in: one aiohttp site per server (coordinator, DBServers) over one model."""
from __future__ import annotations

import logging
import ssl
import traceback

from aiohttp import web

from . import (
    auth, errors, perms, routes_admin, routes_analyzer, routes_auth, routes_cluster_admin, routes_collection,
    routes_cursor, routes_database, routes_document, routes_graph, routes_import, routes_index,
    routes_jobs, routes_query, routes_replication, routes_revisions, routes_server, routes_standin,
    routes_tasks, routes_token, routes_user, routes_view, routes_wal, transactions,
)
from .http import Ctx, Route, Router, error_response, json_response, split_path
from .model import COORDINATOR, Cluster, Server
from .plan_cache import PlanCache
from .running_queries import RunningQueries

log = logging.getLogger("dc2dc.standin")
MAX_BODY = 64 * 1024 * 1024  # documents up to 32 MB, plus JSON/batch overhead


def build_router() -> Router:
    router = Router()
    for module in (routes_admin, routes_cluster_admin, routes_server, routes_auth, routes_database,
                   routes_collection, routes_document, routes_index, routes_view, routes_analyzer,
                   routes_graph, routes_user, routes_token, routes_cursor, routes_query, routes_import,
                   transactions, routes_wal, routes_replication, routes_revisions, routes_tasks,
                   routes_jobs, routes_standin):
        module.register(router)
    return router


# clients (python-arango's overload control) read the queue time; the stand-in never queues
_QUEUE_TIME = {"x-arango-queue-time-seconds": "0.000000"}
# ArangoDB answers every failed authentication with HTTP 401 and errorNum 11 (ERROR_FORBIDDEN);
# python-arango refreshes JWTs on exactly that pair
_UNAUTHORIZED = errors.ArangoError(errors.FORBIDDEN, "not authorized to execute this request", 401)


class StandIn:
    """Owns the model and the listening sites; stops and restarts single servers on request."""

    def __init__(self, cluster: Cluster, host: str = "127.0.0.1", ssl_context: ssl.SSLContext | None = None,
                 on_change=None) -> None:  # type: ignore[no-untyped-def]
        self.cluster = cluster
        self.host = host
        self.ssl_context = ssl_context
        self.router = build_router()
        self.runners: dict[str, web.AppRunner] = {}
        self.ports: dict[str, int] = {}
        self.on_change = on_change
        self.cursors: dict = {}  # AQL cursor id -> routes_cursor.Cursor
        self.log_levels: dict[str, str] = {}
        self.log_structured: dict[str, bool] = {"database": False, "username": False, "url": False}
        self.jobs = routes_jobs.JobStore()
        self.queries = RunningQueries()
        self.plan_cache = PlanCache()

    def url(self, server: Server) -> str:
        scheme = "https" if self.ssl_context else "http"
        return f"{scheme}://{self.host}:{self.ports[server.id]}"

    async def start(self, ports: dict[str, int]) -> None:
        for server in self.cluster.servers.values():
            await self.start_server(server, ports.get(server.id, 0))

    async def start_server(self, server: Server, port: int = 0) -> None:
        port = port or self.ports.get(server.id, 0)
        app = web.Application(client_max_size=MAX_BODY, middlewares=[])
        app["server"] = server
        app["standin"] = self
        app.router.add_route("*", "/{tail:.*}", self._entry)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, self.host, port, ssl_context=self.ssl_context, reuse_address=True)
        await site.start()
        sock = site._server.sockets[0]  # type: ignore[union-attr]
        self.ports[server.id] = sock.getsockname()[1]
        self.runners[server.id] = runner
        scheme = "ssl" if self.ssl_context else "tcp"
        server.endpoint = f"{scheme}://{self.host}:{self.ports[server.id]}"
        server.running = True

    async def stop_server(self, server: Server) -> None:
        runner = self.runners.pop(server.id, None)
        server.running = False
        if runner is not None:
            await runner.cleanup()

    async def close(self) -> None:
        await self.jobs.close()
        for sid in list(self.runners):
            await self.runners.pop(sid).cleanup()

    async def _entry(self, request: web.Request) -> web.StreamResponse:
        mode = request.headers.get("x-arango-async")
        if mode in ("true", "store") and not request.path.startswith("/_api/job"):
            admitted = self._admit(request)
            if isinstance(admitted, web.Response):
                if admitted.status == 401 or _database_missing(admitted):
                    return admitted  # refused before it would have been queued, as ArangoDB does
                job = _answer(admitted)
            else:
                await request.read()  # the job runs after this request is answered: keep its body
                job = self._run(request, *admitted)
            job_id = self.jobs.start(job, keep=mode == "store")
            return web.Response(status=202, headers={"x-arango-async-id": job_id, **_QUEUE_TIME})
        admitted = self._admit(request)
        response = admitted if isinstance(admitted, web.Response) else await self._run(request, *admitted)
        response.headers.update(_QUEUE_TIME)
        return response

    def _admit(self, request: web.Request) -> web.Response | tuple[Route, Ctx]:
        """Route, authenticate and authorise a request: its handler and context, or the refusal."""
        server: Server = request.app["server"]
        cluster = self.cluster
        db_name, parts = split_path(request.raw_path)
        route, params, known = self.router.match(request.method, parts)
        who = auth.authenticate(cluster, request.headers.get("Authorization"))
        try:
            if who is None and not (route is not None and route.public):
                headers = None
                if "X-Omit-Www-Authenticate" not in request.headers:
                    headers = {"Www-Authenticate": 'Basic, realm="ArangoDB"'}
                return error_response(_UNAUTHORIZED, headers)
            if route is None:
                if known:
                    raise errors.ArangoError(errors.HTTP_METHOD_NOT_ALLOWED, "method not supported", 405)
                raise errors.ArangoError(errors.HTTP_NOT_FOUND, f"unknown path '{request.path}'", 404)
            if server.role not in route.roles:
                if server.role == COORDINATOR:
                    raise errors.ArangoError(errors.CLUSTER_ONLY_ON_DBSERVER, "this operation is only valid on a DBserver", 501)
                raise errors.ArangoError(errors.CLUSTER_ONLY_ON_COORDINATOR, "this operation is only valid on a coordinator in a cluster", 501)
            if db_name not in cluster.databases:
                if who is not None and not who.is_admin_user:
                    # users learn nothing about databases they cannot access (as in ArangoDB)
                    raise errors.ArangoError(errors.FORBIDDEN, "not authorized to execute this request", 401)
                raise errors.ArangoError(errors.DATABASE_NOT_FOUND, "database not found", 404)
            ctx = Ctx(request, cluster, server, db_name, "/".join(parts), params,
                      who or auth.Principal(None, False))
            if who is not None and not route.public and not who.superuser:
                if perms.database_level(cluster, who, db_name) == "none" and not _self_service(parts):
                    raise errors.ArangoError(errors.FORBIDDEN, "not authorized to execute this request", 401)
        except errors.ArangoError as err:
            return error_response(err)
        return route, ctx

    async def _run(self, request: web.Request, route: Route, ctx: Ctx) -> web.StreamResponse:
        try:
            response = await route.handler(ctx)
            if request.method not in ("GET", "HEAD") and self.on_change is not None:
                self.on_change()
            return response
        except errors.ArangoError as err:
            return error_response(err)
        except Exception:  # noqa: BLE001 - every failure must become an ArangoDB error body
            log.error("internal error on %s %s\n%s", request.method, request.path, traceback.format_exc())
            return json_response(errors.ArangoError(errors.INTERNAL, "internal error", 500).body(), 500)


def _database_missing(response: web.Response) -> bool:
    return response.status == 404 and b'"errorNum":1228' in (response.body or b"")


async def _answer(response: web.Response) -> web.Response:
    return response


def _self_service(parts: list[str]) -> bool:
    """Calls a user may make without database access (its own identity, version, auth)."""
    return parts[:2] in (["_api", "version"], ["_api", "user"], ["_open", "auth"], ["_api", "database"],
                         ["_admin", "server"])
