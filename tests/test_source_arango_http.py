"""The shared ArangoDB HTTP client: token format, path encoding, error mapping."""

from __future__ import annotations

import base64
import hashlib
import hmac

from typing import Any

import orjson
import pytest

from dc2dc.devcluster.processes import free_port
from dc2dc.pipeline.arango import errno
from dc2dc.pipeline.arango.http import ArangoHttp, _error_from, _http_url, encode_path, superuser_jwt
from dc2dc.pipeline.errors import ArangoError
from source_helpers import standin  # noqa: F401 - fixture


def _unb64(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def test_superuser_jwt_is_hs256_signed_with_the_secret_and_names_arangodb_as_issuer() -> None:
    token = superuser_jwt("s3cret", server_id="dc2dc-test", now=1000)
    header, payload, signature = token.split(".")
    assert orjson.loads(_unb64(header)) == {"alg": "HS256", "typ": "JWT"}
    claims = orjson.loads(_unb64(payload))
    assert claims["iss"] == "arangodb"
    assert claims["server_id"] == "dc2dc-test"
    assert claims["iat"] == 1000 and claims["exp"] > 1000
    expected = hmac.new(b"s3cret", f"{header}.{payload}".encode(), hashlib.sha256).digest()
    assert _unb64(signature) == expected
    assert "=" not in token


def test_each_path_segment_is_percent_encoded_so_unicode_names_and_percent_keys_survive() -> None:
    assert encode_path("/_api/document/Ünïcödé/a%b:c") == "/_api/document/%C3%9Cn%C3%AFc%C3%B6d%C3%A9/a%25b%3Ac"
    assert encode_path("/_api/version") == "/_api/version"


def test_cluster_endpoints_are_translated_to_http_urls() -> None:
    assert _http_url("tcp://127.0.0.1:8530") == "http://127.0.0.1:8530"
    assert _http_url("ssl://db1:8530/") == "https://db1:8530"
    assert _http_url("http://x:1") == "http://x:1"


def test_an_arango_error_body_keeps_errornum_http_code_and_retriability() -> None:
    body = orjson.dumps({"error": True, "code": 503, "errorNum": errno.CLUSTER_SHARD_LEADER_RESIGNED,
                         "errorMessage": "resigned"})
    err = _error_from(503, body, "GET /x")
    assert (err.http_code, err.error_num, err.retriable) == (503, errno.CLUSTER_SHARD_LEADER_RESIGNED, True)
    missing = _error_from(404, orjson.dumps({"error": True, "errorNum": errno.ARANGO_DATA_SOURCE_NOT_FOUND,
                                             "errorMessage": "nope"}), "GET /y")
    assert missing.retriable is False and "nope" in str(missing)


def test_a_proxy_error_without_arango_body_is_retriable_by_http_code() -> None:
    err = _error_from(502, b"<html>bad gateway</html>", "GET /z")
    assert err.error_num is None and err.retriable is True


# -- against the stand-in ---------------------------------------------------------------------

async def test_basic_auth_on_the_coordinator_and_a_superuser_jwt_on_a_dbserver(standin: dict[str, Any]) -> None:
    async with ArangoHttp(standin["coordinator"], username="root", password=standin["password"]) as coordinator:
        assert (await coordinator.request("GET", "/_admin/server/role")).json()["role"] == "COORDINATOR"
    async with ArangoHttp(standin["dbservers"][0], jwt_secret=standin["jwt_secret"]) as dbserver:
        resp = await dbserver.request("GET", "/_api/wal/lastTick", db="_system")
        assert int(resp.json()["tick"]) > 0


async def test_wrong_credentials_are_a_non_retriable_401(standin: dict[str, Any]) -> None:
    async with ArangoHttp(standin["coordinator"], username="root", password="wrong") as http:
        with pytest.raises(ArangoError) as caught:
            await http.request("GET", "/_api/version")
    assert caught.value.http_code == 401 and not caught.value.retriable
    async with ArangoHttp(standin["dbservers"][0], jwt_secret="not-the-secret") as http:
        with pytest.raises(ArangoError) as caught:
            await http.request("GET", "/_api/wal/lastTick")
    assert caught.value.http_code == 401


async def test_a_unicode_database_and_key_round_trip(standin: dict[str, Any]) -> None:
    async with ArangoHttp(standin["coordinator"], username="root", password=standin["password"]) as http:
        await http.request("POST", "/_api/database", json={"name": "Ünï-db"})
        await http.request("POST", "/_api/collection", db="Ünï-db", json={"name": "c"})
        await http.request("POST", "/_api/document/c", db="Ünï-db", json={"_key": "a:b%c", "v": 1})
        doc = (await http.request("GET", "/_api/document/c/a:b%c", db="Ünï-db")).json()
        assert doc["v"] == 1
        with pytest.raises(ArangoError) as caught:
            await http.request("GET", "/_api/document/c/missing", db="Ünï-db")
        assert caught.value.error_num == errno.ARANGO_DOCUMENT_NOT_FOUND


async def test_an_unreachable_server_is_a_retriable_error_without_http_code() -> None:
    async with ArangoHttp(f"http://127.0.0.1:{free_port()}", username="root", password="") as http:
        with pytest.raises(ArangoError) as caught:
            await http.request("GET", "/_api/version")
    assert caught.value.http_code == 0 and caught.value.retriable
