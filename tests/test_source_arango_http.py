"""The shared ArangoDB HTTP client: token format, path encoding, error mapping."""

from __future__ import annotations

import base64
import hashlib
import hmac

import orjson

from dc2dc.pipeline import errno
from dc2dc.pipeline.arango_http import _error_from, _http_url, encode_path, superuser_jwt


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
