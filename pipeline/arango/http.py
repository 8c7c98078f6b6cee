"""A small asyncio client for ArangoDB's HTTP API (aiohttp), shared by source and destination.

Why not python-arango: it is synchronous (requests), and the WAL tail, dump and apply loops
must not block the event loop. The subset dc2dc needs is small: one ``request`` method that
scopes a path to a database, authenticates, and turns every error answer into
``pipeline.errors.ArangoError`` with ArangoDB's ``errorNum`` and the HTTP code kept.

Authentication (spec arangodb-api.md section 9):

* ``username``/``password`` -> HTTP Basic, what a coordinator or single server expects;
* ``jwt_secret`` -> an HS256 *superuser* JWT (``iss: arangodb``, ``server_id``) signed with
  the deployment's JWT secret, what DBServers expect for ``/_api/wal/*`` and
  ``/_api/replication/*``. When both are given the JWT wins (it carries more rights).

Paths are given raw (``/_api/document/<collection>/<key>`` with the names as they are); every
segment is percent-encoded here, so Unicode database/collection names and keys containing
``%`` or ``:`` reach the server intact.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import ssl as ssl_module
import time
from dataclasses import dataclass, field
from typing import Any, Mapping
from urllib.parse import quote

import aiohttp
import orjson
import yarl

from dc2dc.pipeline.errors import ArangoError

# A superuser JWT lives an hour on the server side; renew well before that.
_JWT_LIFETIME_S = 3600
_JWT_RENEW_AFTER_S = 1800
_DEFAULT_TIMEOUT_S = 300.0


def superuser_jwt(secret: str, *, server_id: str = "dc2dc", now: float | None = None) -> str:
    """An HS256 JWT that ArangoDB accepts as a superuser token (signed with ``secret``)."""
    issued = int(time.time() if now is None else now)
    header = {"alg": "HS256", "typ": "JWT"}
    payload = {"iss": "arangodb", "server_id": server_id, "iat": issued, "exp": issued + _JWT_LIFETIME_S}
    signing_input = _b64url(orjson.dumps(header)) + b"." + _b64url(orjson.dumps(payload))
    signature = hmac.new(secret.encode("utf-8"), signing_input, hashlib.sha256).digest()
    return (signing_input + b"." + _b64url(signature)).decode("ascii")


def _b64url(raw: bytes) -> bytes:
    return base64.urlsafe_b64encode(raw).rstrip(b"=")


def encode_path(path: str) -> str:
    """Percent-encode every segment of a raw path (names may be Unicode or contain ``%``)."""
    return "/".join(quote(segment, safe="") for segment in path.split("/"))


def _param(value: Any) -> str:
    # ArangoDB reads booleans as the words true/false, never Python's True/False.
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@dataclass
class Response:
    """A successful (status < 400) answer. ``body`` is the raw bytes (dumps are JSON lines)."""

    status: int
    headers: Mapping[str, str]
    body: bytes
    _parsed: Any = field(default=None, repr=False)

    def json(self) -> Any:
        """The body parsed as one JSON value (``None`` for an empty body, e.g. HTTP 204)."""
        if self._parsed is None and self.body:
            self._parsed = orjson.loads(self.body)
        return self._parsed

    def lines(self) -> list[Any]:
        """The body as JSON lines (``application/x-arango-dump``: WAL tail, dump)."""
        return [orjson.loads(line) for line in self.body.splitlines() if line.strip()]

    def header(self, name: str, default: str = "") -> str:
        """A response header by case-insensitive name."""
        return self.headers.get(name, default)


class ArangoHttp:
    """Connection to one ArangoDB server (coordinator, DBServer or single server).

    Use ``async with ArangoHttp(...) as http`` or call ``close()``. ``request`` raises
    ``ArangoError`` for every answer with status >= 400 and for transport failures (those with
    ``http_code`` 0 and ``retriable`` True: the same request may well succeed on a retry).
    """

    def __init__(
        self,
        base_url: str,
        *,
        username: str | None = None,
        password: str | None = None,
        jwt_secret: str | None = None,
        ssl: ssl_module.SSLContext | bool | None = None,
        timeout: float = _DEFAULT_TIMEOUT_S,
        server_id: str = "dc2dc",
    ) -> None:
        self.base_url = _http_url(base_url)
        self._username = username
        self._password = password or ""
        self._jwt_secret = jwt_secret
        self._server_id = server_id
        self._ssl = ssl
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None
        self._jwt: tuple[float, str] | None = None

    async def __aenter__(self) -> ArangoHttp:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _auth_header(self) -> dict[str, str]:
        if self._jwt_secret is not None:
            now = time.time()
            if self._jwt is None or now - self._jwt[0] > _JWT_RENEW_AFTER_S:
                self._jwt = (now, superuser_jwt(self._jwt_secret, server_id=self._server_id, now=now))
            return {"Authorization": f"bearer {self._jwt[1]}"}
        if self._username is not None:
            token = base64.b64encode(f"{self._username}:{self._password}".encode()).decode("ascii")
            return {"Authorization": f"Basic {token}"}
        return {}

    async def request(
        self,
        method: str,
        path: str,
        *,
        db: str | None = None,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        data: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Response:
        """Send one request; ``path`` is raw and scoped to ``db`` (``/_db/<db>``) when given."""
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        full_path = encode_path(path)
        if db is not None:
            full_path = "/_db/" + quote(db, safe="") + full_path
        url = yarl.URL(self.base_url + full_path, encoded=True)
        if params:
            url = url.update_query({k: _param(v) for k, v in params.items() if v is not None})
        all_headers = {"X-Omit-Www-Authenticate": "true", **self._auth_header(), **(headers or {})}
        if json is not None:
            data = orjson.dumps(json)
            all_headers.setdefault("Content-Type", "application/json")
        try:
            async with self._session.request(
                method, url, data=data, headers=all_headers, ssl=self._ssl if self._ssl is not None else True
            ) as resp:
                body = await resp.read()
                status = resp.status
                resp_headers = resp.headers.copy()
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            raise ArangoError(0, None, f"{method} {self.base_url}{full_path}: {exc!r}", retriable=True) from exc
        if status >= 400:
            raise _error_from(status, body, f"{method} {full_path}")
        return Response(status=status, headers=resp_headers, body=body)


def _http_url(endpoint: str) -> str:
    """``tcp://`` / ``ssl://`` endpoints (as cluster health reports them) -> ``http(s)://``."""
    endpoint = endpoint.rstrip("/")
    for scheme, replacement in (("tcp://", "http://"), ("ssl://", "https://"),
                                ("http+tcp://", "http://"), ("http+ssl://", "https://")):
        if endpoint.startswith(scheme):
            return replacement + endpoint[len(scheme):]
    return endpoint


def _error_from(status: int, body: bytes, what: str) -> ArangoError:
    try:
        parsed = orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        parsed = None
    if isinstance(parsed, dict) and parsed.get("error"):
        return ArangoError(status, parsed.get("errorNum"), f"{what}: {parsed.get('errorMessage', '')}")
    text = body[:200].decode("utf-8", "replace")
    return ArangoError(status, None, f"{what}: {text}")
