"""Ed25519 signatures on every record: nothing is applied unless it verifies.

Signed bytes (version 1), each item length-prefixed so no two different records share them:

    b"dc2dc-sig-1" || item(kid) || item(shard) || item(seq) || item(chunk) || item(value)
    item(x)      = uint32_be(len(x)) || x
    item(absent) = uint32_be(0xFFFFFFFF)            (header not present on the record)

``shard``, ``seq`` and ``chunk`` are the raw header values (see ``codec``), ``value`` the exact
record value. The signature travels in header ``sig`` as unpadded base64url (86 ASCII bytes) next
to the signer's key id in ``kid``. Signing the headers means moving a header from one shard's
record to another breaks the signature; ``verify(..., expected_shard=)`` additionally refuses a
whole record replayed into another shard's topic. Replays within one shard are caught by seq.

Keys are PEM files: ``<kid>.key`` (PKCS#8, mode 0600) and ``<kid>.pub`` (SubjectPublicKeyInfo).
A key loaded from a file without a name for it gets ``key_id``: a short hash of its public key, so
signer and verifier agree on the kid without configuring one, and a verifier trusting a *set* of
keys (old and new during a rotation) picks the right one by the record's ``kid`` header.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
import struct
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from dc2dc.topics.errors import ConfigError, DecodeError, VerificationError
from dc2dc.topics.codec import H_CHUNK, H_KID, H_SEQ, H_SHARD, H_SIG, Headers, index_headers

_DOMAIN = b"dc2dc-sig-1"
_ABSENT = struct.pack(">I", 0xFFFFFFFF)
_KID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def _item(x: bytes | None) -> bytes:
    return _ABSENT if x is None else struct.pack(">I", len(x)) + x


def signed_bytes(kid: bytes, value: bytes, headers: Mapping[str, bytes]) -> bytes:
    """The canonical byte string a signature covers (module docstring)."""
    return b"".join((
        _DOMAIN,
        _item(kid),
        _item(headers.get(H_SHARD)),
        _item(headers.get(H_SEQ)),
        _item(headers.get(H_CHUNK)),
        _item(value),
    ))


def _checked_kid(kid: str) -> str:
    if not _KID.match(kid):
        raise ConfigError(f"key id {kid!r} must be 1-64 of [A-Za-z0-9._-]")
    return kid


def key_id(key: Ed25519PublicKey) -> str:
    """The kid of a key nobody named: 16 hex digits of the SHA-256 of its raw public bytes."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


class Signer:
    """Adds ``kid`` and ``sig`` headers to records produced by this DC."""

    def __init__(self, kid: str, key: Ed25519PrivateKey) -> None:
        self.kid = _checked_kid(kid)
        self._kid = kid.encode()
        self._key = key

    @classmethod
    def from_file(cls, kid: str, path: Path) -> Signer:
        return cls(kid, load_private_key(path))

    @classmethod
    def for_key(cls, key: Ed25519PrivateKey) -> Signer:
        """A signer whose kid is ``key_id`` of its public key."""
        return cls(key_id(key.public_key()), key)

    def sign(self, value: bytes, headers: Sequence[tuple[str, bytes]]) -> Headers:
        """``headers`` without any previous kid/sig, plus this signer's kid and signature."""
        kept = [(k, v) for k, v in headers if k not in (H_KID, H_SIG)]
        sig = self._key.sign(signed_bytes(self._kid, value, index_headers(kept)))
        return [*kept, (H_KID, self._kid), (H_SIG, base64.urlsafe_b64encode(sig).rstrip(b"="))]


class Verifier:
    """Checks records against a keyring of trusted public keys (kid -> key)."""

    def __init__(self, keyring: Mapping[str, Ed25519PublicKey]) -> None:
        if not keyring:
            raise ConfigError("a verifier needs at least one trusted public key")
        self._keyring = {_checked_kid(k).encode(): v for k, v in keyring.items()}

    @classmethod
    def of_keys(cls, keys: Iterable[Ed25519PublicKey]) -> Verifier:
        """A verifier trusting ``keys``, each by its ``key_id`` (a rotation's old and new key)."""
        return cls({key_id(k): k for k in keys})

    def verify(
        self,
        value: bytes | None,
        headers: Sequence[tuple[str, bytes]] | None,
        *,
        expected_shard: str | None = None,
        where: str = "",
    ) -> str:
        """The signer's kid if the record is authentic, else ``VerificationError``.

        ``expected_shard``: the shard of the topic the record was read from; a signed record of
        another shard (replayed into this topic) is refused. ``where`` names topic/offset in errors.
        """
        suffix = f" ({where})" if where else ""
        try:
            given = index_headers(headers)
        except DecodeError as e:
            raise VerificationError(f"{e}{suffix}") from None
        kid, sig = given.get(H_KID), given.get(H_SIG)
        if kid is None or sig is None:
            raise VerificationError(f"record is not signed (no {H_KID}/{H_SIG} header){suffix}")
        key = self._keyring.get(kid)
        if key is None:
            raise VerificationError(f"record signed by unknown key id {kid!r}{suffix}")
        if value is None:
            raise VerificationError(f"record has no value{suffix}")
        try:
            raw = base64.urlsafe_b64decode(sig + b"==")
            # The decoder skips stray characters; insist on the one canonical spelling.
            if base64.urlsafe_b64encode(raw).rstrip(b"=") != sig:
                raise ValueError("non-canonical signature encoding")
            key.verify(raw, signed_bytes(kid, value, given))
        except (InvalidSignature, binascii.Error, ValueError):
            raise VerificationError(f"bad signature for key id {kid.decode()!r}{suffix}") from None
        if expected_shard is not None and given.get(H_SHARD) != expected_shard.encode():
            raise VerificationError(
                f"record of shard {given.get(H_SHARD)!r} found where shard {expected_shard!r} "
                f"was expected{suffix}"
            )
        return kid.decode()


def generate_keypair(directory: Path, kid: str) -> tuple[Path, Path]:
    """Write ``<kid>.key`` (private, 0600) and ``<kid>.pub``; refuses to overwrite either."""
    directory.mkdir(parents=True, exist_ok=True)
    private_path = directory / f"{_checked_kid(kid)}.key"
    public_path = directory / f"{kid}.pub"
    for path in (private_path, public_path):
        if path.exists():
            raise ConfigError(f"{path} exists; refusing to overwrite a key")
    key = Ed25519PrivateKey.generate()
    private_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    # O_EXCL + 0600 at creation: the private key is never readable by others, not even briefly.
    fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(private_pem)
    public_path.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return private_path, public_path


def load_private_key(path: Path) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as e:
        raise ConfigError(f"cannot load private key {path}: {e}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigError(f"{path} is not an Ed25519 private key")
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    try:
        key = serialization.load_pem_public_key(path.read_bytes())
    except (OSError, ValueError) as e:
        raise ConfigError(f"cannot load public key {path}: {e}") from None
    if not isinstance(key, Ed25519PublicKey):
        raise ConfigError(f"{path} is not an Ed25519 public key")
    return key


def load_keyring(directory: Path) -> dict[str, Ed25519PublicKey]:
    """Every ``<kid>.pub`` in ``directory``, by kid."""
    keyring = {p.stem: load_public_key(p) for p in sorted(directory.glob("*.pub"))}
    if not keyring:
        raise ConfigError(f"no public keys (*.pub) in {directory}")
    return keyring
