"""Certificates in use: warned about ahead of expiry, and reloaded when their files are replaced."""

from __future__ import annotations

import asyncio
import logging
import os
import ssl
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from dc2dc.pipeline.cert_watch import (
    CertificateExpiryCollector,
    ContextWatcher,
    LiveServerContext,
    TlsFiles,
    expiring,
    server_context,
)
from dc2dc.pipeline import certs
from tls_helpers import client_context, tls_exchange


def issue(folder: Path, *, days: int = 400) -> tuple[TlsFiles, Path]:
    """A CA and a server certificate for 127.0.0.1 in ``folder``: (server files, CA certificate)."""
    folder.mkdir(parents=True, exist_ok=True)
    certs.create_ca(folder / "ca.pem", folder / "ca.key")
    certs.create_server(folder / "ca.pem", folder / "ca.key", folder / "server.pem", folder / "server.key", days=days)
    return TlsFiles(folder / "server.pem", folder / "server.key"), folder / "ca.pem"


def test_a_certificate_expiring_in_ten_days_is_warned_about_and_exported_in_seconds(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    soon, _ = issue(tmp_path / "soon", days=10)
    later, _ = issue(tmp_path / "later", days=400)
    with caplog.at_level(logging.WARNING, logger="dc2dc.pipeline.cert_watch"):
        found = expiring([soon.cert, later.cert])
    assert [info.path for info in found] == [str(soon.cert)]
    assert [r.getMessage() for r in caplog.records if str(soon.cert) in r.getMessage()]
    assert "expires in 10.0 days" in caplog.text
    assert str(later.cert) not in caplog.text

    registry = CollectorRegistry()
    registry.register(CertificateExpiryCollector([soon.cert, later.cert]))
    seconds = registry.get_sample_value("dc2dc_certificate_expiry_seconds", {"path": str(soon.cert)})
    assert seconds is not None and 10 * 86400 - 60 < seconds <= 10 * 86400
    assert registry.get_sample_value("dc2dc_certificate_expiry_seconds", {"path": str(later.cert)}) > 399 * 86400


def test_the_warning_threshold_is_thirty_days_by_default(tmp_path: Path) -> None:
    assert expiring([issue(tmp_path / "a", days=29)[0].cert])
    assert not expiring([issue(tmp_path / "b", days=31)[0].cert])


def replace(new: Path, old: Path) -> None:
    os.replace(new, old)   # what a rotation does: write aside, then rename into place


async def wait_for(condition, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


async def test_replacing_the_files_hands_a_context_built_from_the_new_files_to_the_callback(tmp_path: Path) -> None:
    files, old_ca = issue(tmp_path / "live")
    fresh, new_ca = issue(tmp_path / "fresh")
    changes: list[ssl.SSLContext] = []
    watcher = ContextWatcher(files, server_context, changes.append, interval_s=0.05)
    async with watcher as first:
        assert await tls_exchange(first, client_context(old_ca)) == [""]

        # Half a rotation (the new key next to the old certificate) is not usable: nothing changes.
        replace(fresh.key, files.key)
        await asyncio.sleep(0.5)
        assert changes == []

        replace(fresh.cert, files.cert)
        await wait_for(lambda: changes)
        assert len(changes) == 1
        assert await tls_exchange(changes[0], client_context(new_ca)) == [""]
        with pytest.raises(ssl.SSLCertVerificationError):
            await tls_exchange(changes[0], client_context(old_ca))

        await asyncio.sleep(0.3)
        assert len(changes) == 1, "unchanged files must not be reloaded again"


async def test_a_server_started_with_a_live_context_serves_new_connections_with_the_replacement(
        tmp_path: Path) -> None:
    old, old_ca = issue(tmp_path / "old")
    new, new_ca = issue(tmp_path / "new")
    live = LiveServerContext(server_context(old))
    assert await tls_exchange(live.context, client_context(old_ca)) == [""]
    live.replace(server_context(new))
    # The same context object the server holds, now presenting the new certificate.
    assert await tls_exchange(live.context, client_context(new_ca)) == [""]
    with pytest.raises(ssl.SSLCertVerificationError):
        await tls_exchange(live.context, client_context(old_ca))
