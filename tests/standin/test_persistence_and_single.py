"""A restarted stand-in comes back with its data and WAL; single-server mode logs on itself."""
from __future__ import annotations

import uuid

import requests

from dc2dc.devcluster.standin.launcher import start_standin, stop_standin

from .wire import markers, tail


def test_restart_keeps_documents_structure_users_and_wal(tmp_path):
    dc = f"p-{uuid.uuid4().hex[:6]}"
    info = start_standin(tmp_path, dc, mode="single")
    try:
        url, auth = info["coordinator"], ("root", info["password"])
        requests.post(f"{url}/_api/database", json={"name": "dürable"}, auth=auth).raise_for_status()
        requests.post(f"{url}/_db/dürable/_api/collection", json={"name": "c"}, auth=auth).raise_for_status()
        requests.post(f"{url}/_db/dürable/_api/document/c", json=[{"_key": "a", "v": 1}], auth=auth)
        requests.post(f"{url}/_api/user", json={"user": "keeper", "passwd": "pw"}, auth=auth)
        tick = requests.get(f"{url}/_api/wal/lastTick", auth=auth).json()["tick"]
    finally:
        stop_standin(tmp_path, dc)
    info = start_standin(tmp_path, dc, mode="single")
    try:
        url, auth = info["coordinator"], ("root", info["password"])
        assert requests.get(f"{url}/_db/dürable/_api/document/c/a", auth=auth).json()["v"] == 1
        assert requests.get(f"{url}/_api/version", auth=("keeper", "pw")).status_code == 200
        assert requests.get(f"{url}/_api/wal/lastTick", auth=auth).json()["tick"] == tick
        ms = markers(tail(url, "dürable", {"Authorization": requests.auth._basic_auth_str(*auth)}, **{"from": 0}))
        assert [m["data"]["_key"] for m in ms if m["type"] == 2300] == ["a"]
    finally:
        stop_standin(tmp_path, dc)


def test_single_server_wal_uses_collection_names_and_guids(standin_single):
    url, auth = standin_single.coordinator, standin_single.auth
    name = f"s{uuid.uuid4().hex[:6]}"
    requests.post(f"{url}/_api/database", json={"name": name}, auth=auth).raise_for_status()
    start = requests.get(f"{url}/_api/wal/lastTick", auth=auth).json()["tick"]
    props = requests.post(f"{url}/_db/{name}/_api/collection", json={"name": "items"}, auth=auth).json()
    requests.post(f"{url}/_db/{name}/_api/document/items", json={"_key": "k"}, auth=auth)
    ms = markers(tail(url, name, {"Authorization": requests.auth._basic_auth_str(*auth)}, **{"from": start}))
    create, insert = ms
    assert create["type"] == 2000 and create["data"]["name"] == "items"
    assert create["cuid"] == insert["cuid"] == props["globallyUniqueId"]
    assert insert["type"] == 2300 and insert["tid"] == "0"


def test_a_killed_stand_in_keeps_what_was_written_a_moment_before(tmp_path):
    import os
    import signal
    import time

    dc = f"k-{uuid.uuid4().hex[:6]}"
    info = start_standin(tmp_path, dc, mode="single")
    url, auth = info["coordinator"], ("root", info["password"])
    try:
        requests.post(f"{url}/_api/collection", json={"name": "c"}, auth=auth).raise_for_status()
        requests.post(f"{url}/_api/document/c", json=[{"_key": f"k{i}"} for i in range(100)], auth=auth)
        time.sleep(2)  # a few snapshot intervals
        os.killpg(info["pid"], signal.SIGKILL)
        os.waitpid(info["pid"], 0)  # the launcher's child: reap it
        info = start_standin(tmp_path, dc, mode="single")
        url = info["coordinator"]
        count = requests.get(f"{url}/_api/collection/c/count", auth=("root", info["password"])).json()["count"]
        assert count == 100
    finally:
        stop_standin(tmp_path, dc)
