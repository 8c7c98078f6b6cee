"""Secrets stay secret: files open to other users are refused, and no password or JWT secret shows in
a repr, an error, a worker's /status, its log or its command line."""

from __future__ import annotations

import traceback
import uuid
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from dc2dc.agents.worker import source_components
from dc2dc.devcluster.up import DevEnvironment
from dc2dc.devcluster.workers import start_worker, stop_worker
from dc2dc.pipeline.arango.endpoint import ArangoEndpoint
from dc2dc.pipeline.arango.errors import ArangoError
from dc2dc.pipeline.arango.http import ArangoHttp
from dc2dc.pipeline.ops.cli import main
from dc2dc.pipeline.secret_files import SecretFileError
from dc2dc.pipeline.topology import Topology, TopologyError
from dc2dc.topics.signing import generate_keypair
from test_worker_process import standin_a  # noqa: F401 (fixture)

PASSWORD = "pw-" + uuid.uuid4().hex
JWT = "jwt-" + uuid.uuid4().hex


def topology_with_secrets(folder: Path, *, password_mode: int = 0o600, jwt_mode: int = 0o600,
                          key_mode: int = 0o600, arangodb: str = "http://127.0.0.1:1",
                          kafka: str = "127.0.0.1:1", password: str = PASSWORD, jwt: str = JWT) -> Path:
    for name, value, mode in (("a.password", password, password_mode), ("a.jwt", jwt, jwt_mode)):
        (folder / name).write_text(value + "\n")
        (folder / name).chmod(mode)
    private, _ = generate_keypair(folder / "keys", "A")
    private.chmod(key_mode)
    path = folder / "topology.toml"
    path.write_text(f"""
[dc.A]
kafka = "{kafka}"
arangodb = "{arangodb}"
password_file = "a.password"
jwt_secret_file = "a.jwt"
signing_key = "keys/A.key"
""")
    return path


@pytest.mark.parametrize(("kind", "mode"), [("password", 0o644), ("password", 0o604), ("jwt", 0o660),
                                            ("jwt", 0o602), ("key", 0o644), ("key", 0o650)])
def test_a_secret_file_open_to_other_users_is_refused_when_the_topology_is_loaded(
        tmp_path: Path, kind: str, mode: int) -> None:
    path = topology_with_secrets(tmp_path, **{f"{kind}_mode": mode})
    loose = {"password": "a.password", "jwt": "a.jwt", "key": "keys/A.key"}[kind]
    with pytest.raises(TopologyError) as refused:
        Topology.load(path)
    assert f"secret file {tmp_path / loose} has mode {mode:04o}" in str(refused.value)
    assert "[dc.A]" in str(refused.value)


@pytest.mark.parametrize("mode", [0o600, 0o640, 0o400, 0o440])
def test_owner_only_and_group_readable_secret_files_are_accepted(tmp_path: Path, mode: int) -> None:
    dc = Topology.load(topology_with_secrets(tmp_path, password_mode=mode, jwt_mode=mode, key_mode=mode)).dcs["A"]
    assert (dc.password(), dc.jwt_secret()) == (PASSWORD, JWT)


def test_a_secret_file_loosened_after_loading_is_refused_when_read(tmp_path: Path) -> None:
    dc = Topology.load(topology_with_secrets(tmp_path)).dcs["A"]
    (tmp_path / "a.password").chmod(0o644)
    with pytest.raises(SecretFileError, match="has mode 0644"):
        dc.password()


def test_the_source_workers_settings_print_no_secret(tmp_path: Path) -> None:
    topology = Topology.load(topology_with_secrets(tmp_path))
    [component] = source_components(topology, topology.dcs["A"])
    shown = repr(component.settings) + str(component.settings) + repr(topology)
    assert PASSWORD not in shown and JWT not in shown
    # ... while the values themselves are intact for the connections that need them.
    assert (component.settings.arangodb.password, component.settings.arangodb.jwt_secret) == (PASSWORD, JWT)


def test_an_endpoint_prints_its_url_and_user_but_no_secret_even_a_plain_string_one() -> None:
    endpoint = ArangoEndpoint("http://db.example:8529", username="replicator", password=PASSWORD, jwt_secret=JWT)
    shown = repr(endpoint) + str(endpoint) + repr(endpoint.at("http://dbserver.example:8530"))
    assert "db.example:8529" in shown and "replicator" in shown
    assert PASSWORD not in shown and JWT not in shown


async def test_an_arangodb_refusal_names_neither_the_password_nor_the_jwt_secret(standin_a: dict) -> None:
    for auth in ({"username": "root", "password": PASSWORD}, {"jwt_secret": JWT}):
        async with ArangoHttp(standin_a["coordinator"], **auth) as http:
            with pytest.raises(ArangoError) as refused:
                await http.request("GET", "/_api/version")
        assert refused.value.http_code == 401
        shown = str(refused.value) + repr(refused.value) + repr(refused.value.args)
        assert PASSWORD not in shown and JWT not in shown


def test_a_running_worker_shows_no_secret_in_status_log_or_process_arguments(
        tmp_path: Path, kafka_two_dc: DevEnvironment, standin_a: dict) -> None:
    password, jwt = standin_a["password"], standin_a["jwt_secret"]
    topology = topology_with_secrets(tmp_path, arangodb=standin_a["coordinator"], kafka=kafka_two_dc.bootstrap("A"),
                                     password=password, jwt=jwt)
    worker = start_worker(tmp_path, topology, "source", "A")
    try:
        status = repr(worker.status())
        arguments = Path(f"/proc/{worker.proc.pid}/cmdline").read_bytes().decode().replace("\0", " ")
    finally:
        stop_worker(worker)
    log = (tmp_path / "worker-source-A.log").read_text()
    assert "--topology" in arguments and "SourceComponent" in status and log
    for secret in (password, jwt):
        assert secret not in status
        assert secret not in arguments
        assert secret not in log


@pytest.mark.parametrize("right_password", [True, False])
def test_dc2dc_status_json_shows_no_secret_whether_it_connects_or_is_refused(
        tmp_path: Path, kafka_two_dc: DevEnvironment, standin_a: dict, right_password: bool) -> None:
    password = standin_a["password"] if right_password else PASSWORD
    topology = topology_with_secrets(tmp_path, arangodb=standin_a["coordinator"], kafka=kafka_two_dc.bootstrap("A"),
                                     password=password, jwt=standin_a["jwt_secret"])
    with topology.open("a") as f:
        f.write(f"""
[dc.B]
kafka = "{kafka_two_dc.bootstrap('B')}"
arangodb = "{standin_a['coordinator']}"
password_file = "a.password"

[[replication]]
from = "A"
to = "B"
""")
    result = CliRunner().invoke(main, ["status", "--topology", str(topology), "--json"])
    shown = result.output + repr(result.exception) + "".join(traceback.format_exception(result.exception))
    if right_password:
        assert orjson.loads(result.output)["from"] == "A"
    else:
        assert "401" in shown
    for secret in (password, standin_a["jwt_secret"]):
        assert secret not in shown
