"""Authentication and permissions answer with ArangoDB's status codes and error bodies."""
from __future__ import annotations

import time
import uuid

import pytest
import requests
from arango import errno
from arango.exceptions import DocumentInsertError

from dc2dc.devcluster.standin.auth import issue_jwt


def test_missing_or_wrong_credentials_get_401_with_arango_body(standin):
    for auth in (None, ("root", "wrong")):
        r = requests.get(f"{standin.coordinator}/_api/version", auth=auth)
        assert r.status_code == 401
        assert r.json() == {"error": True, "code": 401, "errorNum": errno.FORBIDDEN,
                            "errorMessage": "not authorized to execute this request"}
        assert "Www-Authenticate" in r.headers
    r = requests.get(f"{standin.coordinator}/_api/version", headers={"X-Omit-Www-Authenticate": "1"})
    assert r.status_code == 401 and "Www-Authenticate" not in r.headers


def test_open_auth_issues_a_usable_jwt(standin):
    r = requests.post(f"{standin.coordinator}/_open/auth", json={"username": "root", "password": standin.auth[1]})
    token = r.json()["jwt"]
    r = requests.get(f"{standin.coordinator}/_api/version", headers={"Authorization": f"bearer {token}"})
    assert r.status_code == 200
    r = requests.post(f"{standin.coordinator}/_open/auth", json={"username": "root", "password": "nope"})
    assert r.status_code == 401 and r.json()["errorNum"] == 401


def test_dbservers_accept_superuser_jwt_and_reject_foreign_or_expired(standin):
    url = standin.dbservers[0]
    assert requests.get(f"{url}/_api/wal/lastTick", headers=standin.superuser_headers()).status_code == 200
    now = int(time.time())
    for secret, exp in (("not-the-secret", now + 60), (standin.info["jwt_secret"], now - 60)):
        token = issue_jwt(secret, {"iss": "arangodb", "server_id": "x", "iat": now, "exp": exp})
        r = requests.get(f"{url}/_api/wal/lastTick", headers={"Authorization": f"bearer {token}"})
        assert r.status_code == 401


def test_read_only_user_cannot_write_and_collection_grant_overrides(standin, db):
    sys_db = standin.sys_db()
    name = f"u_{uuid.uuid4().hex[:6]}"
    sys_db.create_user(name, "pw")
    try:
        db.create_collection("open")
        db.create_collection("locked")
        sys_db.update_permission(name, "ro", db.name)
        sys_db.update_permission(name, "rw", db.name, "open")
        user_db = standin.client().db(db.name, username=name, password="pw")
        user_db.collection("open").insert({"_key": "a"})
        with pytest.raises(DocumentInsertError) as exc:
            user_db.collection("locked").insert({"_key": "a"})
        assert exc.value.http_code == 403 and exc.value.error_code == 11
        assert sys_db.permission(name, db.name) == "ro"
        assert sys_db.permission(name, db.name, "open") == "rw"
        r = requests.get(f"{standin.dbservers[0]}/_api/wal/lastTick", auth=(name, "pw"))
        assert r.status_code in (401, 403)
    finally:
        sys_db.delete_user(name)
