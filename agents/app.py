"""The Faust app every dc2dc worker process runs.

Faust gives the worker its process model: signal handling, a supervised service tree, logging, and
the web server that serves ``/metrics`` and ``/status``. It does *not* carry the replicated data:
Faust's streams ack an event whose agent raised, ignore pattern subscriptions and put every
one-partition topic on one worker (notes/faust.md), each of which loses or stalls changes. So the
correctness-critical paths (tailers, appliers, positions) are plain aiokafka components that the
:class:`ComponentHost` service starts and stops with the app. A component that fails crashes the
worker — a supervisor restarts the process and it resumes from its positions — and never skips.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import faust
import mode
import orjson
from prometheus_client import CollectorRegistry, generate_latest

from dc2dc.agents.metrics import StatusCollector
from dc2dc.pipeline.cert_watch import CertificateExpiryCollector, TlsFiles, expiring, reloading_server_context

log = logging.getLogger(__name__)


class Component(Protocol):
    """A long-lived replication component: the source or the destination side of one flow."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def wait(self) -> None:
        """Return when the component ended; raise what made it fail."""

    def status(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class WorkerSettings:
    app_id: str
    kafka_bootstrap: str
    # Without a monitoring token /status and /metrics answer anyone, so only this host may reach them by default.
    web_bind: str = "127.0.0.1"
    web_port: int = 6066
    web_enabled: bool = True
    # With a token, /status and /metrics answer only ``Authorization: Bearer <token>`` (ArangoSync's
    # --monitoring.token), so a scraper on another host needs no open door.
    monitoring_token: str | None = field(default=None, repr=False)
    # Certificates the worker uses: their expiry goes to /metrics and is warned about in the log.
    certificates: tuple[Path, ...] = ()
    # HTTPS for /status and /metrics (with ``ca``: clients must show a certificate it signed);
    # replaced files are picked up without a restart.
    web_tls: TlsFiles | None = None
    tls_reload_interval_s: float = 5.0


def create_app(settings: WorkerSettings, components: Callable[[], list[Component]]) -> faust.App:
    """A Faust app hosting the components that ``components()`` builds when the worker starts."""
    # The web server takes its context when the app is built, so the files are read now and a
    # replacement from this moment on is reloaded once the watcher runs.
    live_tls, watcher = (reloading_server_context(settings.web_tls, settings.tls_reload_interval_s)
                         if settings.web_tls is not None else (None, None))
    app = faust.App(
        settings.app_id,
        broker=f"kafka://{settings.kafka_bootstrap}",
        web_bind=settings.web_bind,
        web_host=settings.web_bind,
        web_port=settings.web_port,
        web_enabled=settings.web_enabled,
        web_ssl_context=live_tls.context if live_tls else None,
        # Faust's own routes would publish the worker URLs of the group (/router), table data
        # (/table), sensors (/, /assignment), the service graph and performance figures. dc2dc
        # uses none of them and serves only its own /status and /metrics.
        web_router_enabled=False,
        web_tables_enabled=False,
        web_stats_enabled=False,
        web_graph_enabled=False,
        web_metrics_enabled=False,
        # The app declares no Faust topics or tables; no leader election topic is needed.
        topic_disable_leader=True,
        autodiscover=False,
    )
    # No Faust stream carries replicated data (see the module docstring), so the app runs without
    # Faust's consumer, conductor and tables: producer-only mode keeps the web server and services.
    app.producer_only = True
    hosts: list[ComponentHost] = []

    @app.service
    class Host(ComponentHost):
        # Faust builds its services from classes with no arguments of ours.
        def __init__(self, **kwargs: Any) -> None:
            super().__init__(components, **kwargs)
            hosts.append(self)

    def current_status() -> dict[str, Any]:
        return hosts[0].status() if hosts else {"starting": True}

    if watcher is not None:
        tls_watcher = watcher   # the narrowed type, for the methods below

        @app.service
        class WebTlsReload(mode.Service):
            async def on_start(self) -> None:
                await tls_watcher.watch()

            async def on_stop(self) -> None:
                await tls_watcher.stop()

    registry = CollectorRegistry()
    registry.register(StatusCollector(current_status))
    certificates = settings.certificates + ((settings.web_tls.cert,) if settings.web_tls else ())
    if certificates:
        registry.register(CertificateExpiryCollector(certificates))
        expiring(settings.certificates)   # the web certificate's watcher warns about its own

    def refused(web: Any, request: Any) -> Any | None:
        """A 401 answer unless the request carries the monitoring token (or none is configured)."""
        if settings.monitoring_token is None:
            return None
        given = request.headers.get("Authorization", "").encode()
        if hmac.compare_digest(given, f"Bearer {settings.monitoring_token}".encode()):
            return None
        return web.bytes(b"monitoring token required\n", content_type="text/plain", status=401,
                         headers={"WWW-Authenticate": 'Bearer realm="dc2dc"'})

    # An aiohttp response is a mapping, empty and so false: hence ``is not None``, never ``or``.
    @app.page("/metrics")
    async def metrics(web: Any, request: Any) -> Any:
        if (denied := refused(web, request)) is not None:
            return denied
        # Prometheus' text format 0.0.4; aiohttp adds the charset itself.
        return web.bytes(generate_latest(registry), content_type="text/plain; version=0.0.4")

    @app.page("/status")
    async def status(web: Any, request: Any) -> Any:
        if (denied := refused(web, request)) is not None:
            return denied
        return web.bytes(orjson.dumps(current_status()), content_type="application/json")

    return app


class ComponentHost(mode.Service):
    """Starts the components with the worker, stops them with it, crashes it when one fails."""

    def __init__(self, components: Callable[[], list[Component]], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._build = components
        self._components: list[Component] = []

    async def on_start(self) -> None:
        self._components = self._build()
        for component in self._components:
            await component.start()
            self.add_future(self._watch(component))

    async def on_stop(self) -> None:
        for component in reversed(self._components):
            await component.stop()

    async def _watch(self, component: Component) -> None:
        try:
            await component.wait()
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # noqa: BLE001 - every failure must stop the worker loudly
            log.critical("component %s failed, stopping the worker: %r", type(component).__name__, exc)
            await self.crash(exc)

    def status(self) -> dict[str, Any]:
        return {type(c).__name__: c.status() for c in self._components}
