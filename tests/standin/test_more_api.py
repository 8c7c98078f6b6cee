"""Named graphs, async jobs, access tokens, AQL explain and user functions."""
from __future__ import annotations

import time
import uuid

import pytest
import requests
from arango.exceptions import AQLQueryExplainError, GraphCreateError


def test_graph_definitions_live_in_graphs_and_create_their_collections(db):
    graph = db.create_graph("g", edge_definitions=[
        {"edge_collection": "knows", "from_vertex_collections": ["people"], "to_vertex_collections": ["people"]}])
    assert db.collection("knows").properties()["edge"] is True
    assert graph.vertex_collections() == ["people"]
    with pytest.raises(GraphCreateError) as exc:
        db.create_graph("g")
    assert exc.value.error_code == 1925
    people = graph.vertex_collection("people")
    people.insert({"_key": "a"})
    people.insert({"_key": "b"})
    graph.edge_collection("knows").insert({"_from": "people/a", "_to": "people/b"})
    edges = graph.edge_collection("knows").edges("people/a", direction="out")["edges"]
    assert [e["_to"] for e in edges] == ["people/b"]
    assert db.collection("_graphs").get("g")["edgeDefinitions"][0]["collection"] == "knows"
    assert db.delete_graph("g", drop_collections=True) is True
    assert not db.has_collection("knows")


def test_async_job_result_is_kept_until_fetched(standin, db):
    db.create_collection("c")
    url = f"{standin.coordinator}/_db/{db.name}"
    r = requests.post(f"{url}/_api/document/c", json={"_key": "a"}, auth=standin.auth,
                      headers={"x-arango-async": "store"})
    assert r.status_code == 202 and r.content == b""
    job = r.headers["x-arango-async-id"]
    assert _wait_done(url, job, standin.auth) == 200
    result = requests.put(f"{url}/_api/job/{job}", auth=standin.auth)
    assert result.status_code == 202 and result.json()["_key"] == "a"
    assert result.headers["x-arango-async-id"] == job
    assert requests.put(f"{url}/_api/job/{job}", auth=standin.auth).status_code == 404
    assert requests.get(f"{url}/_api/job/{job}", auth=standin.auth).status_code == 404
    bad_type = requests.get(f"{url}/_api/job/finished", auth=standin.auth)
    assert (bad_type.status_code, bad_type.json()["errorNum"]) == (400, 400)


def _wait_done(url: str, job: str, auth: tuple[str, str]) -> int:
    """Poll a job's status as ArangoDB's docs do; the final status code (200 once done)."""
    deadline = time.monotonic() + 10
    while (code := requests.get(f"{url}/_api/job/{job}", auth=auth).status_code) == 204:
        assert time.monotonic() < deadline, f"job {job} still pending"
        time.sleep(0.05)
    return code


def test_an_async_query_is_pending_while_it_sleeps_then_done(standin, db):
    url = f"{standin.coordinator}/_db/{db.name}"
    r = requests.post(f"{url}/_api/cursor", json={"query": "RETURN SLEEP(0.5)"}, auth=standin.auth,
                      headers={"x-arango-async": "store"})
    assert r.status_code == 202
    job = r.headers["x-arango-async-id"]
    status = requests.get(f"{url}/_api/job/{job}", auth=standin.auth)
    assert status.status_code == 204 and "x-arango-async-id" not in status.headers
    assert requests.get(f"{url}/_api/job/pending", auth=standin.auth).json() == [job]
    assert requests.put(f"{url}/_api/job/{job}", auth=standin.auth).status_code == 204  # not done yet
    assert _wait_done(url, job, standin.auth) == 200
    assert job in requests.get(f"{url}/_api/job/done", auth=standin.auth).json()
    result = requests.put(f"{url}/_api/job/{job}", auth=standin.auth)
    assert result.status_code == 201 and result.json()["result"] == [None]


def test_cancelling_a_pending_query_job_kills_the_query(standin, db):
    url = f"{standin.coordinator}/_db/{db.name}"
    db.create_collection("c")
    r = requests.post(f"{url}/_api/cursor", json={"query": "LET s = SLEEP(5) INSERT {_key: 'x'} INTO c"},
                      auth=standin.auth, headers={"x-arango-async": "store"})
    job = r.headers["x-arango-async-id"]
    cancel = requests.put(f"{url}/_api/job/{job}/cancel", auth=standin.auth)
    assert cancel.status_code == 200 and cancel.json()["result"] is True
    result = requests.put(f"{url}/_api/job/{job}", auth=standin.auth)
    assert (result.status_code, result.json()["errorNum"]) == (410, 1500)
    assert db.collection("c").count() == 0
    db.collection("c").insert({"_key": "x"})  # the killed query left nothing behind


def test_deleting_a_pending_job_forgets_it_but_the_request_still_runs(standin, db):
    url = f"{standin.coordinator}/_db/{db.name}"
    db.create_collection("c")
    r = requests.post(f"{url}/_api/cursor", json={"query": "LET s = SLEEP(0.3) INSERT {_key: 'x'} INTO c"},
                      auth=standin.auth, headers={"x-arango-async": "store"})
    job = r.headers["x-arango-async-id"]
    assert requests.delete(f"{url}/_api/job/{job}", auth=standin.auth).status_code == 200
    assert requests.get(f"{url}/_api/job/{job}", auth=standin.auth).status_code == 404
    deadline = time.monotonic() + 10
    while db.collection("c").count() == 0:
        assert time.monotonic() < deadline, "the deleted job's query never ran"
        time.sleep(0.05)


def test_access_tokens_work_as_passwords_until_deleted(standin):
    sys_db = standin.sys_db()
    user = f"tok_{uuid.uuid4().hex[:6]}"
    sys_db.create_user(user, "pw")
    try:
        url = standin.coordinator
        token = requests.post(f"{url}/_api/token/{user}", auth=standin.auth,
                              json={"name": "ci", "valid_until": int(time.time()) + 60}).json()
        assert token["active"] is True and token["token"].startswith("v1.")
        assert requests.get(f"{url}/_api/version", auth=(user, token["token"])).status_code == 200
        listed = requests.get(f"{url}/_api/token/{user}", auth=standin.auth).json()["tokens"]
        assert [t["name"] for t in listed] == ["ci"] and "token" not in listed[0]
        requests.delete(f"{url}/_api/token/{user}/{token['id']}", auth=standin.auth).raise_for_status()
        assert requests.get(f"{url}/_api/version", auth=(user, token["token"])).status_code == 401
    finally:
        sys_db.delete_user(user)


def test_explain_validates_with_the_stand_in_aql(db):
    db.create_collection("c")
    plan = db.aql.explain("FOR d IN c RETURN d")
    assert plan["collections"] == [{"name": "c", "type": "read"}] and "stats" in plan
    with pytest.raises(AQLQueryExplainError) as exc:
        db.aql.explain("FOR d IN")
    assert exc.value.error_code == 1501


def test_user_aql_functions_are_stored_in_aqlfunctions(db):
    assert db.aql.create_function("my::double", "function (x) { return 2 * x; }") == {"is_new": True}
    assert [f["name"] for f in db.aql.functions()] == ["my::double"]
    assert db.collection("_aqlfunctions").count() == 1
    assert db.aql.delete_function("my", group=True) == {"deleted": 1}


def test_running_queries_are_listed_and_can_be_killed(standin, db):
    url = f"{standin.coordinator}/_db/{db.name}"
    r = requests.post(f"{url}/_api/cursor", json={"query": "RETURN SLEEP(@s)", "bindVars": {"s": 30}},
                      auth=standin.auth, headers={"x-arango-async": "store"})
    job = r.headers["x-arango-async-id"]
    deadline = time.monotonic() + 10
    while not (running := db.aql.queries()):
        assert time.monotonic() < deadline, "the query never showed as running"
        time.sleep(0.05)
    [query] = running
    assert (query["query"], query["bind_vars"], query["state"]) == ("RETURN SLEEP(@s)", {"s": 30}, "executing")
    assert query["started"].endswith("Z") and query["runtime"] >= 0
    assert standin.sys_db().aql.queries() == []  # listed in its own database only
    assert db.aql.kill(query["id"]) is True
    assert _wait_done(url, job, standin.auth) == 200
    result = requests.put(f"{url}/_api/job/{job}", auth=standin.auth)
    assert (result.status_code, result.json()["errorNum"]) == (410, 1500)
    assert db.aql.queries() == []
    kill_again = requests.delete(f"{url}/_api/query/{query['id']}", auth=standin.auth)
    assert (kill_again.status_code, kill_again.json()["errorNum"]) == (404, 1591)


def test_queries_run_with_use_plan_cache_are_listed_until_cleared(standin, db):
    db.create_collection("c").insert({"_key": "a"})
    query = "FOR d IN @@c FILTER d._key == @k RETURN d"
    for key in ("a", "b"):  # value bind parameters do not make a new entry
        db.aql.execute(query, bind_vars={"@c": "c", "k": key}, use_plan_cache=True)
    db.aql.execute("RETURN 1")  # without the option: not cached
    [entry] = db.aql.cache.plan_entries()
    assert (entry["query"], entry["bindVars"], entry["hits"]) == (query, {"@c": "c"}, 1)
    assert entry["dataSources"] == ["c"] and entry["fullCount"] is False
    assert standin.sys_db().aql.cache.plan_entries() == []  # per database
    db.aql.cache.clear_plan()
    assert db.aql.cache.plan_entries() == []
