"""`dc2dc worker` as an operator runs it: a Faust worker process that serves /metrics and /status,
and that refuses loudly — never runs half-configured — on bad credentials or a missing key."""

from __future__ import annotations

import subprocess
import sys
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from dc2dc.devcluster.processes import free_port
from dc2dc.devcluster.standin.launcher import start_standin, stop_standin
from dc2dc.devcluster.up import DevEnvironment
from dc2dc.devcluster.workers import start_worker, stop_worker


@pytest.fixture(scope="module")
def standin_a(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    state = tmp_path_factory.mktemp("worker-standin")
    dc = f"wA-{uuid.uuid4().hex[:6]}"
    try:
        yield start_standin(state, dc)
    finally:
        stop_standin(state, dc)


def write_topology(folder: Path, kafka_two_dc: DevEnvironment, standin: dict, password: str,
                   src: str) -> Path:
    (folder / "a.password").write_text(password + "\n")
    (folder / "a.jwt").write_text(standin["jwt_secret"] + "\n")
    path = folder / "topology.toml"
    path.write_text(f"""
[dc.{src}]
kafka = "{kafka_two_dc.bootstrap('A')}"
arangodb = "{standin['coordinator']}"
password_file = "a.password"
jwt_secret_file = "a.jwt"

[dc.B]
kafka = "{kafka_two_dc.bootstrap('B')}"
arangodb = "{standin['coordinator']}"

[[replication]]
from = "{src}"
to = "B"
""")
    return path


def run_worker(topology: Path, role: str, dc: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "dc2dc.pipeline.ops.cli", "worker", "--role", role, "--dc", dc,
                           "--topology", str(topology), "--web-port", str(free_port())],
                          capture_output=True, text=True, timeout=120, cwd=topology.parent)


def test_a_wrong_arangodb_password_stops_the_source_worker_with_the_servers_answer(
        tmp_path: Path, kafka_two_dc: DevEnvironment, standin_a: dict) -> None:
    src = f"w{uuid.uuid4().hex[:6]}"
    result = run_worker(write_topology(tmp_path, kafka_two_dc, standin_a, "not-the-password", src), "source", src)
    assert result.returncode != 0
    assert "401" in result.stdout + result.stderr


def test_a_destination_without_the_sources_public_key_refuses_to_start(
        tmp_path: Path, kafka_two_dc: DevEnvironment, standin_a: dict) -> None:
    src = f"w{uuid.uuid4().hex[:6]}"
    result = run_worker(write_topology(tmp_path, kafka_two_dc, standin_a, standin_a["password"], src),
                        "destination", "B")
    assert result.returncode != 0
    assert f"DC '{src}' has no verify_key" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_running_worker_serves_status_and_prometheus_metrics(
        tmp_path: Path, kafka_two_dc: DevEnvironment, standin_a: dict) -> None:
    src = f"w{uuid.uuid4().hex[:6]}"
    topology = write_topology(tmp_path, kafka_two_dc, standin_a, standin_a["password"], src)
    worker = start_worker(tmp_path, topology, "source", src)
    try:
        status = worker.status()
        assert status is not None and status["SourceComponent"]["src"] == src
        with urllib.request.urlopen(f"http://127.0.0.1:{worker.web_port}/metrics", timeout=5) as resp:
            assert resp.headers["Content-Type"].startswith("text/plain")
            assert f'dc2dc_source_structure_epoch'.encode() in resp.read()
    finally:
        stop_worker(worker)
    assert not worker.proc.alive()
