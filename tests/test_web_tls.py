"""A worker serving /status and /metrics over HTTPS, and taking a new certificate without a restart."""

from __future__ import annotations

import http.client
import os
import ssl
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest

from dc2dc.devcluster.up import DevEnvironment
from dc2dc.devcluster.workers import start_worker, stop_worker
from dc2dc.pipeline import certs
from test_worker_process import standin_a, write_topology  # noqa: F401 (fixture)


def issue(folder: Path) -> tuple[Path, Path, Path]:
    """A CA and a server certificate for 127.0.0.1 signed by it: (CA cert, server cert, server key)."""
    folder.mkdir()
    certs.create_ca(folder / "ca.pem", folder / "ca.key")
    certs.create_server(folder / "ca.pem", folder / "ca.key", folder / "web.pem", folder / "web.key")
    return folder / "ca.pem", folder / "web.pem", folder / "web.key"


def fetch(port: int, path: str, ca: Path) -> bytes:
    with urllib.request.urlopen(f"https://127.0.0.1:{port}{path}", timeout=5,
                                context=ssl.create_default_context(cafile=ca)) as resp:
        return resp.read()


def test_the_web_endpoints_serve_https_and_take_a_replaced_certificate_without_a_restart(
        tmp_path: Path, kafka_two_dc: DevEnvironment, standin_a: dict) -> None:
    src = f"w{uuid.uuid4().hex[:6]}"
    topology = write_topology(tmp_path, kafka_two_dc, standin_a, standin_a["password"], src)
    old_ca, cert, key = issue(tmp_path / "old")
    new_ca, new_cert, new_key = issue(tmp_path / "new")
    worker = start_worker(tmp_path, topology, "source", src, web_tls=(cert, key), web_ca=old_ca)
    try:
        assert src.encode() in fetch(worker.web_port, "/status", old_ca)
        metrics = fetch(worker.web_port, "/metrics", old_ca).decode()
        assert f'dc2dc_certificate_expiry_seconds{{path="{cert}"}}' in metrics
        with pytest.raises((OSError, http.client.HTTPException)):   # plain HTTP is not served
            urllib.request.urlopen(f"http://127.0.0.1:{worker.web_port}/status", timeout=5)

        os.replace(new_key, key)   # a rotation: new files written aside, then renamed into place
        os.replace(new_cert, cert)
        deadline = time.monotonic() + 60
        while True:
            try:
                assert src.encode() in fetch(worker.web_port, "/status", new_ca)
                break
            except urllib.error.URLError:
                assert time.monotonic() < deadline, "the worker never presented the new certificate"
                time.sleep(0.5)
        with pytest.raises(urllib.error.URLError, match="CERTIFICATE_VERIFY_FAILED"):
            fetch(worker.web_port, "/status", old_ca)
        assert worker.proc.alive()
    finally:
        stop_worker(worker)
    assert "reloaded TLS certificate" in (tmp_path / f"worker-source-{src}.log").read_text()
