"""`/_api/wal/tail` answers as real ArangoDB 3.11 and 3.12 single servers answered in the
documentation examples recorded in arangodb/docs-hugo (`site/data/<version>/cache.json`:
RestWalAccessTailingEmpty, RestWalAccessTailingSome, RestWalAccessTailingBufferLimit).

The scenarios are the examples' own: tail from the newest tick with nothing new, and tail after
create collection -> two saves -> remove -> update -> drop.
"""
from __future__ import annotations

import uuid

import requests

from .wire import markers, tail

# How far below `from` an idle tail's lastscanned is: the start of the write batch holding `from`
# (a document write spans 2 ticks on 3.12, 4 on 3.11 — recorded: from-1 and from-3).
_IDLE_LASTSCANNED_BELOW = {"3.12": 1, "3.11": 3}


def _family(server) -> str:
    return server.info["version"].rsplit(".", 1)[0]


def _last_tick(server) -> int:
    r = requests.get(f"{server.coordinator}/_api/wal/lastTick", headers=server.superuser_headers())
    return int(r.json()["tick"])


def _headers(r: requests.Response) -> dict[str, str]:
    return {h: r.headers[f"x-arango-replication-{h}"]
            for h in ("checkmore", "frompresent", "lastincluded", "lastscanned", "lasttick")}


def _create_write_drop(server) -> None:
    """The recorded examples' writes (products: save p1, save p2, remove p1, update p2, drop)."""
    db = server.sys_db()
    name = f"products_{uuid.uuid4().hex[:6]}"
    coll = db.create_collection(name)
    coll.insert({"_key": "p1", "name": "flux compensator"})
    coll.insert({"_key": "p2", "name": "hybrid hovercraft", "hp": 5100})
    coll.delete("p1")
    coll.update({"_key": "p2", "name": "broken hovercraft"})
    db.delete_collection(name)


def test_version_is_reported_as_started(single_of_version):
    version = requests.get(f"{single_of_version.coordinator}/_api/version", auth=single_of_version.auth).json()
    assert version["version"] == single_of_version.info["version"]
    assert version["version"].startswith(_family(single_of_version) + ".")


def test_idle_tail_is_204_with_lastscanned_below_from(single_of_version):
    server = single_of_version
    coll = server.sys_db().create_collection(f"idle_{uuid.uuid4().hex[:6]}")
    coll.insert({"_key": "last"})  # the newest write batch: one document operation
    start = _last_tick(server)
    r = tail(server.coordinator, "_system", server.superuser_headers(), **{"from": start})
    assert r.status_code == 204 and r.content == b""
    assert _headers(r) == {
        "checkmore": "false", "frompresent": "true", "lastincluded": "0",
        "lastscanned": str(start - _IDLE_LASTSCANNED_BELOW[_family(server)]), "lasttick": str(start)}


def test_resuming_with_a_lastscanned_below_from_reads_nothing_twice(single_of_version):
    server = single_of_version
    hdr = server.superuser_headers()
    coll = server.sys_db().create_collection(f"resume_{uuid.uuid4().hex[:6]}")
    coll.insert({"_key": "seen"})
    start = _last_tick(server)
    idle = tail(server.coordinator, "_system", hdr, **{"from": start})
    coll.insert({"_key": "new"})
    r = tail(server.coordinator, "_system", hdr,
             **{"from": start, "lastScanned": idle.headers["x-arango-replication-lastscanned"]})
    assert [m["data"]["_key"] for m in markers(r)] == ["new"]


def test_create_write_drop_shows_only_the_drop_marker_then_204(single_of_version):
    server = single_of_version
    hdr = server.superuser_headers()
    start = _last_tick(server)
    _create_write_drop(server)
    for params in ({}, {"chunkSize": 400}):
        r = tail(server.coordinator, "_system", hdr, **{"from": start, **params})
        assert r.status_code == 200 and r.headers["Content-Type"].startswith("application/x-arango-dump")
        (drop,) = markers(r)
        assert set(drop) == {"tick", "type", "db", "cuid"} and drop["type"] == 2001 and drop["db"] == "_system"
        h = _headers(r)
        assert h["checkmore"] == "true" and h["frompresent"] == "true"
        assert h["lastincluded"] == drop["tick"]
        assert int(h["lastscanned"]) == int(h["lasttick"]) > int(h["lastincluded"])
    again = tail(server.coordinator, "_system", hdr,
                 **{"from": h["lastincluded"], "lastScanned": h["lastscanned"]})
    assert again.status_code == 204 and again.headers["x-arango-replication-checkmore"] == "false"
    assert again.headers["x-arango-replication-lastincluded"] == "0"


def test_markers_of_a_collection_that_still_exists_are_all_shown(single_of_version):
    server = single_of_version
    start = _last_tick(server)
    coll = server.sys_db().create_collection(f"kept_{uuid.uuid4().hex[:6]}")
    coll.insert({"_key": "p1"})
    coll.delete("p1")
    types = [m["type"] for m in markers(tail(server.coordinator, "_system", server.superuser_headers(),
                                             **{"from": start}))]
    assert types == [2000, 2300, 2302]
