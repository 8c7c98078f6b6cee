"""Fixtures: one stand-in cluster (and one single server) per test session, always stopped.

Tests talk to the stand-in only over HTTP — through python-arango or plain requests — never
through its internals, so they specify the wire behaviour a replicator relies on.
"""
from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from arango import ArangoClient
from arango.database import StandardDatabase

from dc2dc.devcluster.standin.auth import issue_jwt
from dc2dc.devcluster.standin.launcher import start_standin, stop_standin


@dataclass
class StandinHandle:
    info: dict
    state_dir: Path
    dc_id: str

    @property
    def coordinator(self) -> str:
        return self.info["coordinator"]

    @property
    def dbservers(self) -> list[str]:
        return self.info["dbservers"]

    @property
    def auth(self) -> tuple[str, str]:
        return (self.info["username"], self.info["password"])

    def superuser_headers(self) -> dict[str, str]:
        now = int(time.time())
        token = issue_jwt(self.info["jwt_secret"], {"iss": "arangodb", "server_id": "dc2dc-test",
                                                   "iat": now, "exp": now + 3600})
        return {"Authorization": f"bearer {token}"}

    def client(self) -> ArangoClient:
        return ArangoClient(hosts=self.coordinator)

    def sys_db(self) -> StandardDatabase:
        return self.client().db("_system", username=self.auth[0], password=self.auth[1], verify=True)

    def admin(self, method: str, path: str, body: dict | None = None) -> dict:
        r = requests.request(method, f"{self.coordinator}/_admin/standin/{path}", json=body or {},
                             auth=self.auth, timeout=10)
        r.raise_for_status()
        return r.json()


def _start(tmp: Path, mode: str, version: str = "3.12") -> Iterator[StandinHandle]:
    dc_id = f"{mode}-{uuid.uuid4().hex[:8]}"
    info = start_standin(tmp, dc_id, mode=mode, arangodb_version=version)
    try:
        yield StandinHandle(info, tmp, dc_id)
    finally:
        stop_standin(tmp, dc_id)


@pytest.fixture(scope="session")
def standin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StandinHandle]:
    """A stand-in cluster: a coordinator and three DBServers."""
    yield from _start(tmp_path_factory.mktemp("standin-cluster"), "cluster")


@pytest.fixture(scope="session")
def standin_single(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StandinHandle]:
    """A stand-in single server (role SINGLE)."""
    yield from _start(tmp_path_factory.mktemp("standin-single"), "single")


@pytest.fixture(scope="session", params=["3.12", "3.11"])
def single_of_version(request: pytest.FixtureRequest,
                      tmp_path_factory: pytest.TempPathFactory) -> Iterator[StandinHandle]:
    """A stand-in single server answering as ArangoDB 3.12, then as 3.11 (`info["version"]`)."""
    yield from _start(tmp_path_factory.mktemp(f"standin-single-{request.param}"), "single", request.param)


@pytest.fixture()
def db(standin: StandinHandle) -> Iterator[StandardDatabase]:
    """A fresh database (with a Unicode name) in the cluster, dropped afterwards."""
    name = f"tëst_{uuid.uuid4().hex[:8]}"
    sys_db = standin.sys_db()
    sys_db.create_database(name)
    try:
        yield standin.client().db(name, username=standin.auth[0], password=standin.auth[1])
    finally:
        sys_db.delete_database(name, ignore_missing=True)
