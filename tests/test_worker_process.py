"""`dc2dc worker` as an operator runs it: a Faust worker process that serves /metrics and /status,
and that refuses loudly — never runs half-configured — on bad credentials or a missing key."""

from __future__ import annotations

import ipaddress
import subprocess
import sys
import urllib.error
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
    for secret in ("a.password", "a.jwt"):
        (folder / secret).chmod(0o600)
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


def run_worker(topology: Path, role: str, dc: str, *options: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "dc2dc.pipeline.ops.cli", "worker", "--role", role, "--dc", dc,
                           "--topology", str(topology), "--web-port", str(free_port()), *options],
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


def listening_addresses(port: int) -> set[str]:
    """The local addresses a socket LISTENs on for ``port``, read from the kernel's own table."""
    found: set[str] = set()
    for table, width in (("/proc/net/tcp", 8), ("/proc/net/tcp6", 32)):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.split(":")
            if state == "0A" and int(hex_port, 16) == port:  # 0A = TCP_LISTEN
                raw = bytes.fromhex(address)
                # The kernel prints each 32-bit word in host (little-endian) order.
                words = b"".join(raw[i:i + 4][::-1] for i in range(0, width // 2, 4))
                found.add(str(ipaddress.ip_address(words)))
    return found


def http_status(port: int, path: str) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as resp:
            return resp.status
    except urllib.error.HTTPError as e:
        return e.code


def test_the_web_server_listens_on_loopback_only_and_serves_no_faust_debug_routes(
        tmp_path: Path, kafka_two_dc: DevEnvironment, standin_a: dict) -> None:
    # /status and /metrics have no authentication: by default nothing off this host may reach them.
    src = f"w{uuid.uuid4().hex[:6]}"
    topology = write_topology(tmp_path, kafka_two_dc, standin_a, standin_a["password"], src)
    worker = start_worker(tmp_path, topology, "source", src)
    try:
        assert listening_addresses(worker.web_port) == {"127.0.0.1"}
        assert http_status(worker.web_port, "/status") == 200
        assert http_status(worker.web_port, "/metrics") == 200
        # Faust's own routes expose the cluster's worker URLs, table data, sensors and the service
        # graph; a replicator has no use for them.
        for path in ("/router/", "/table/", "/graph/", "/assignment/", "/performance/"):
            assert http_status(worker.web_port, path) == 404, path
    finally:
        stop_worker(worker)


def test_web_bind_chooses_the_interface_the_web_server_listens_on(
        tmp_path: Path, kafka_two_dc: DevEnvironment, standin_a: dict) -> None:
    src = f"w{uuid.uuid4().hex[:6]}"
    topology = write_topology(tmp_path, kafka_two_dc, standin_a, standin_a["password"], src)
    worker = start_worker(tmp_path, topology, "source", src, web_bind="0.0.0.0")
    try:
        assert listening_addresses(worker.web_port) == {"0.0.0.0"}
        assert http_status(worker.web_port, "/status") == 200
    finally:
        stop_worker(worker)
