"""Authentication: HTTP basic, user JWTs from /_open/auth and HS256 superuser JWTs.

Tokens are HS256 JWTs signed with the deployment's JWT secret, `iss` must be `arangodb`; a token
without `preferred_username` is a superuser token (what cluster-internal callers and a
DBServer-tailing replicator use).
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from dataclasses import dataclass

import orjson

from .model import Cluster

SESSION_SECONDS = 3600


@dataclass(frozen=True)
class Principal:
    user: str | None      # None for a superuser JWT
    superuser: bool

    @property
    def is_admin_user(self) -> bool:
        return self.superuser or self.user == "root"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def issue_jwt(secret: str, claims: dict) -> str:
    header = _b64(orjson.dumps({"alg": "HS256", "typ": "JWT"}))
    payload = _b64(orjson.dumps(claims))
    sig = hmac.new(secret.encode(), f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{_b64(sig)}"


def user_token(secret: str, user: str) -> str:
    now = int(time.time())
    return issue_jwt(secret, {"iss": "arangodb", "preferred_username": user, "iat": now,
                              "exp": now + SESSION_SECONDS})


def verify_jwt(secret: str, token: str) -> dict | None:
    try:
        header_b64, payload_b64, sig_b64 = token.split(".")
        header = orjson.loads(_unb64(header_b64))
        if header.get("alg") != "HS256":
            return None
        expected = hmac.new(secret.encode(), f"{header_b64}.{payload_b64}".encode(), hashlib.sha256).digest()
        if not hmac.compare_digest(expected, _unb64(sig_b64)):
            return None
        claims = orjson.loads(_unb64(payload_b64))
    except (ValueError, binascii.Error, orjson.JSONDecodeError):
        return None
    if not isinstance(claims, dict) or claims.get("iss") != "arangodb":
        return None
    exp = claims.get("exp")
    if exp is not None and (not isinstance(exp, (int, float)) or exp < time.time()):
        return None
    return claims


def check_password(cluster: Cluster, user: str, password: str) -> bool:
    """The user's password, or one of its active, unexpired access tokens (3.12)."""
    entry = cluster.users.get(user)
    if entry is None or not entry.active:
        return False
    if hmac.compare_digest(entry.password, password):
        return True
    return any(_token_valid(t, password) for t in cluster.access_tokens.get(user, []))


def _token_valid(token: dict, secret: str) -> bool:
    return (token["active"] and token.get("valid_until", float("inf")) > time.time()
            and hmac.compare_digest(token["token"], secret))


def token_owner(cluster: Cluster, secret: str) -> str | None:
    """The active user an access token belongs to (basic auth may name no user, only the token)."""
    for user, tokens in cluster.access_tokens.items():
        entry = cluster.users.get(user)
        if entry is not None and entry.active and any(_token_valid(t, secret) for t in tokens):
            return user
    return None


def authenticate(cluster: Cluster, header: str | None) -> Principal | None:
    """The caller behind an Authorization header, or None when missing or invalid."""
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    scheme = scheme.lower()
    value = value.strip()
    if scheme == "basic":
        try:
            user, _, password = base64.b64decode(value).decode().partition(":")
        except (ValueError, binascii.Error, UnicodeDecodeError):
            return None
        if not user:
            owner = token_owner(cluster, password)
            return Principal(owner, False) if owner is not None else None
        return Principal(user, False) if check_password(cluster, user, password) else None
    if scheme == "bearer":
        claims = verify_jwt(cluster.jwt_secret, value)
        if claims is None:
            return None
        name = claims.get("preferred_username")
        if name is None:
            return Principal(None, True)
        entry = cluster.users.get(name)
        return Principal(name, False) if entry is not None and entry.active else None
    return None
