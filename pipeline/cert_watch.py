"""Certificates in use: expiry warnings, a Prometheus gauge, and TLS contexts that follow rotation.

ArangoSync's workers stopped dead when a two-year certificate expired unnoticed; dc2dc says so a
month ahead (a log warning and ``dc2dc_certificate_expiry_seconds{path}``), and a rotation needs no
restart: :class:`ContextWatcher` notices new files and hands a context built from them to whoever
serves or connects, so new connections use the new certificate while open ones finish on the old.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
import ssl
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from dc2dc.pipeline.certs import CertificateInfo, describe
from dc2dc.topics.errors import ConfigError

log = logging.getLogger(__name__)

WARN_DAYS = 30.0
# How often a running watcher repeats the expiry warning: a month of warnings, one a day.
_REWARN_S = 86400.0


def expiring(paths: Sequence[Path], warn_days: float = WARN_DAYS,
             now: dt.datetime | None = None) -> list[CertificateInfo]:
    """The certificates among ``paths`` that expire within ``warn_days``, each logged as a warning."""
    found = []
    for path in paths:
        info = describe(path)
        if info.days_left(now) < warn_days:
            log.warning("certificate %s (%s) expires in %.1f days, on %s: create a new one and replace the "
                        "files (workers reload them)", path, info.subject, info.days_left(now),
                        info.not_after.isoformat())
            found.append(info)
    return found


class CertificateExpiryCollector(Collector):
    """``dc2dc_certificate_expiry_seconds{path}``, read from the files at scrape time.

    Reading on scrape means a rotated file is reported as soon as it is in place; a file that cannot
    be read is left out (and its absence is what an alert on ``absent()`` catches).
    """

    def __init__(self, paths: Sequence[Path]) -> None:
        self._paths = tuple(paths)

    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily("dc2dc_certificate_expiry_seconds",
                                   "Seconds until the certificate in the file expires (negative: expired)",
                                   labels=["path"])
        for path in self._paths:
            try:
                family.add_metric([str(path)], describe(path).seconds_left())
            except ConfigError as e:
                log.warning("cannot report the expiry of %s: %s", path, e)
        yield family


@dataclass(frozen=True)
class TlsFiles:
    cert: Path
    key: Path
    ca: Path | None = None    # server: require client certificates of this CA; client: trust only it

    def paths(self) -> tuple[Path, ...]:
        return (self.cert, self.key) + ((self.ca,) if self.ca else ())


def server_context(files: TlsFiles) -> ssl.SSLContext:
    """A server's context from the files; with ``ca``, clients must show a certificate that CA signed."""
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    _load(ctx, files)
    if files.ca is not None:
        ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


def client_context(files: TlsFiles) -> ssl.SSLContext:
    """A client's context from the files: trusts only ``ca`` (when given) and checks host names."""
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    _load(ctx, files)
    return ctx


def _load(ctx: ssl.SSLContext, files: TlsFiles) -> None:
    try:
        ctx.load_cert_chain(files.cert, files.key)
        if files.ca is not None:
            ctx.load_verify_locations(files.ca)
    except (OSError, ssl.SSLError) as e:
        raise ConfigError(f"cannot build a TLS context from {files.cert} and {files.key}: {e}") from None


def _signature(paths: Sequence[Path]) -> tuple[tuple[int, int, int], ...]:
    # Inode too: a rotation by rename keeps sizes and may land within one mtime tick.
    stats = [os.stat(p) for p in paths]
    return tuple((s.st_mtime_ns, s.st_size, s.st_ino) for s in stats)


class ContextWatcher:
    """Calls ``on_change`` with a fresh context whenever the files change, checking every ``interval_s``.

    A rotation replaces the certificate and the key one after the other; a poll that finds them not
    matching yet (or a file missing) keeps the current context and tries again on the next poll, so a
    half-done rotation never reaches ``on_change``.
    """

    def __init__(self, files: TlsFiles, build: Callable[[TlsFiles], ssl.SSLContext],
                 on_change: Callable[[ssl.SSLContext], None], *, interval_s: float = 5.0,
                 warn_days: float = WARN_DAYS) -> None:
        self.files = files
        self._build = build
        self._on_change = on_change
        self._interval_s = interval_s
        self._warn_days = warn_days
        self._seen: tuple[tuple[int, int, int], ...] | None = None
        self._task: asyncio.Task[None] | None = None
        self._warned_at = 0.0

    def load(self) -> ssl.SSLContext:
        """The context from the files as they are now (blocking: at process start, or in a thread).

        The files' state is noted *before* they are read, so a change from then on is always seen.
        """
        self._seen = _signature(self.files.paths())
        return self._build(self.files)

    async def watch(self) -> None:
        """From now on, hand changes of the files since :meth:`load` to ``on_change``."""
        await self._warn()
        self._task = asyncio.create_task(self._run(), name=f"watch {self.files.cert}")

    async def start(self) -> ssl.SSLContext:
        """:meth:`load`, then :meth:`watch`."""
        ctx = await asyncio.to_thread(self.load)
        await self.watch()
        return ctx

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def __aenter__(self) -> ssl.SSLContext:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval_s)
            await self.poll()
            if asyncio.get_running_loop().time() - self._warned_at >= _REWARN_S:
                await self._warn()

    async def _warn(self) -> None:
        self._warned_at = asyncio.get_running_loop().time()
        try:
            await asyncio.to_thread(expiring, [self.files.cert], self._warn_days)
        except ConfigError as e:
            log.warning("cannot check the expiry of %s: %s", self.files.cert, e)

    async def poll(self) -> bool:
        """Check the files once; True when a new context went to ``on_change``."""
        try:
            seen = await asyncio.to_thread(_signature, self.files.paths())
            if seen == self._seen:
                return False
            ctx = await asyncio.to_thread(self._build, self.files)
        except (OSError, ConfigError) as e:
            log.warning("certificate files changed but are not usable yet, keeping the current ones: %s", e)
            return False
        self._seen = seen
        log.info("reloaded TLS certificate %s", self.files.cert)
        await self._warn()
        self._on_change(ctx)
        return True


class LiveServerContext:
    """The one context a server is started with, whose new connections use the newest certificate.

    A listening server (aiohttp's, Faust's) keeps the context it was given; so that one picks, in its
    SNI callback (called on every ClientHello, with or without a server name), the context last given
    to :meth:`replace` for the connection being accepted. Open connections keep theirs.
    """

    def __init__(self, first: ssl.SSLContext) -> None:
        self.context = first
        self._current = first
        first.sni_callback = self._pick

    def replace(self, newer: ssl.SSLContext) -> None:
        self._current = newer

    def _pick(self, connection: ssl.SSLObject | ssl.SSLSocket, server_name: str | None,
              context: ssl.SSLContext) -> None:
        if self._current is not context:
            connection.context = self._current


def reloading_server_context(files: TlsFiles, interval_s: float = 5.0) -> tuple[LiveServerContext, ContextWatcher]:
    """A server context read from ``files`` now, and the watcher (to start later) that keeps it current."""
    live: list[LiveServerContext] = []
    watcher = ContextWatcher(files, server_context, lambda newer: live[0].replace(newer), interval_s=interval_s)
    live.append(LiveServerContext(watcher.load()))
    return live[0], watcher
