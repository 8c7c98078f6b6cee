"""A worker's /status and /metrics behind a bearer token (ArangoSync's --monitoring.token), and the
expiry of its certificates in /metrics — through a real `dc2dc worker` process."""

from __future__ import annotations

import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest

from dc2dc.devcluster.up import DevEnvironment
from dc2dc.devcluster.workers import start_worker, stop_worker
from dc2dc.pipeline import certs
from test_worker_process import run_worker, standin_a, write_topology  # noqa: F401 (fixture)

TOKEN = "tok-" + uuid.uuid4().hex


def get(port: int, path: str, authorization: str | None) -> tuple[int, bytes]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}",
                                     headers={"Authorization": authorization} if authorization else {})
    try:
        with urllib.request.urlopen(request, timeout=5) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def token_file(folder: Path, mode: int = 0o600) -> Path:
    path = folder / "monitoring.token"
    path.write_text(TOKEN + "\n")
    path.chmod(mode)
    return path


def test_status_and_metrics_answer_only_requests_with_the_monitoring_token(
        tmp_path: Path, kafka_two_dc: DevEnvironment, standin_a: dict) -> None:
    src = f"w{uuid.uuid4().hex[:6]}"
    certs.create_ca(tmp_path / "ca.pem", tmp_path / "ca.key")
    certs.create_server(tmp_path / "ca.pem", tmp_path / "ca.key", tmp_path / "soon.pem", tmp_path / "soon.key", days=10)
    topology = write_topology(tmp_path, kafka_two_dc, standin_a, standin_a["password"], src)
    worker = start_worker(tmp_path, topology, "source", src, monitoring_token_file=token_file(tmp_path),
                          certificates=(tmp_path / "soon.pem",))
    try:
        for path in ("/status", "/metrics"):
            for refused in (None, f"Bearer {TOKEN}x", f"Basic {TOKEN}", "Bearer "):
                status, body = get(worker.web_port, path, refused)
                assert status == 401, (path, refused)
                assert TOKEN.encode() not in body
        status, body = get(worker.web_port, "/status", f"Bearer {TOKEN}")
        assert status == 200 and src.encode() in body
        status, body = get(worker.web_port, "/metrics", f"Bearer {TOKEN}")
        assert status == 200
        line = next(x for x in body.decode().splitlines() if x.startswith("dc2dc_certificate_expiry_seconds{"))
        assert f'path="{tmp_path / "soon.pem"}"' in line
        assert 9.99 * 86400 < float(line.split()[-1]) <= 10 * 86400
    finally:
        stop_worker(worker)
    log = (tmp_path / f"worker-source-{src}.log").read_text()
    assert f"certificate {tmp_path / 'soon.pem'}" in log and "expires in 10.0 days" in log
    assert TOKEN not in log


def test_a_monitoring_token_file_readable_by_others_stops_the_worker_before_it_starts(
        tmp_path: Path, kafka_two_dc: DevEnvironment, standin_a: dict) -> None:
    src = f"w{uuid.uuid4().hex[:6]}"
    topology = write_topology(tmp_path, kafka_two_dc, standin_a, standin_a["password"], src)
    loose = token_file(tmp_path, 0o644)
    result = run_worker(topology, "source", src, "--monitoring-token-file", str(loose))
    assert result.returncode != 0
    assert f"secret file {loose} has mode 0644" in result.stderr
    assert "Traceback" not in result.stderr and TOKEN not in result.stdout + result.stderr
