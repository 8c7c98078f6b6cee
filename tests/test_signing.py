"""Ed25519 record signatures: only records from a trusted key, unaltered, in their shard verify."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from envelope_strategies import envelopes
from hypothesis import given, settings

from dc2dc.pipeline.errors import ConfigError, VerificationError
from dc2dc.topics.chunking import ChunkLimits, to_records
from dc2dc.topics.codec import encode
from dc2dc.topics.envelope import Envelope, Op
from dc2dc.topics.signing import (
    Signer,
    Verifier,
    generate_keypair,
    load_keyring,
    load_private_key,
    signed_bytes,
)

KEY_A = Ed25519PrivateKey.generate()
KEY_B = Ed25519PrivateKey.generate()
SIGNER = Signer("dcA-1", KEY_A)
VERIFIER = Verifier({"dcA-1": KEY_A.public_key(), "dcB-1": KEY_B.public_key()})


def signed(env: Envelope, signer: Signer = SIGNER) -> tuple[bytes, list[tuple[str, bytes]]]:
    value, headers = encode(env)
    return value, signer.sign(value, headers)


def data(seq: int = 7, shard: str = "s1", doc: dict | None = None) -> Envelope:
    return Envelope(op=Op.INSERT, src="A", seq=seq, shard=shard, key="k", doc=doc or {"_key": "k"})


@settings(max_examples=50)
@given(envelopes())
def test_every_signed_record_verifies_and_names_its_key(env: Envelope) -> None:
    value, headers = signed(env)
    assert VERIFIER.verify(value, headers) == "dcA-1"


def test_signature_header_is_ascii_next_to_the_key_id() -> None:
    _, headers = signed(data())
    h = dict(headers)
    assert h["kid"] == b"dcA-1"
    assert len(h["sig"]) == 86 and h["sig"].isascii()


def test_resigning_replaces_the_previous_signature() -> None:
    value, headers = signed(data())
    again = Signer("dcB-1", KEY_B).sign(value, headers)
    assert [k for k, _ in again].count("sig") == 1
    assert VERIFIER.verify(value, again) == "dcB-1"


def test_tampered_value_is_refused() -> None:
    value, headers = signed(data())
    forged = value.replace(b'"_key":"k"', b'"_key":"x"')
    with pytest.raises(VerificationError, match="bad signature"):
        VERIFIER.verify(forged, headers)


def test_forged_record_signed_by_an_untrusted_key_is_refused() -> None:
    mallory = Signer("dcA-1", Ed25519PrivateKey.generate())  # claims a trusted kid
    with pytest.raises(VerificationError, match="bad signature"):
        VERIFIER.verify(*signed(data(), mallory))


def test_unknown_key_id_is_refused() -> None:
    with pytest.raises(VerificationError, match="unknown key id"):
        VERIFIER.verify(*signed(data(), Signer("dcZ-1", Ed25519PrivateKey.generate())))


@pytest.mark.parametrize("drop", ["kid", "sig"])
def test_unsigned_record_is_refused(drop: str) -> None:
    value, headers = signed(data())
    with pytest.raises(VerificationError, match="not signed"):
        VERIFIER.verify(value, [h for h in headers if h[0] != drop])


@pytest.mark.parametrize(
    ("name", "new"),
    [("shard", b"s2"), ("seq", b"8"), ("chunk", b"0/2"), ("kid", b"dcB-1")],
)
def test_changing_or_adding_a_signed_header_is_refused(name: str, new: bytes) -> None:
    value, headers = signed(data())
    altered = [(k, new if k == name else v) for k, v in headers]
    if name not in dict(headers):
        altered.insert(0, (name, new))
    with pytest.raises(VerificationError):
        VERIFIER.verify(value, altered)


def test_header_swap_between_two_shards_records_is_refused() -> None:
    v1, h1 = signed(data(shard="s1", seq=3))
    _, h2 = signed(data(shard="s2", seq=3))
    swapped = [(k, dict(h2)[k] if k == "shard" else v) for k, v in h1]
    with pytest.raises(VerificationError, match="bad signature"):
        VERIFIER.verify(v1, swapped)


def test_whole_record_replayed_into_another_shards_topic_is_refused() -> None:
    value, headers = signed(data(shard="s1"))
    assert VERIFIER.verify(value, headers, expected_shard="s1") == "dcA-1"
    with pytest.raises(VerificationError, match="where shard 's2' was expected"):
        VERIFIER.verify(value, headers, expected_shard="s2", where="dc2dc.A.shard.s2@4")


def test_duplicate_signed_header_is_refused() -> None:
    value, headers = signed(data())
    with pytest.raises(VerificationError, match="more than once"):
        VERIFIER.verify(value, [*headers, ("shard", b"s2")])


def test_non_canonical_signature_encoding_is_refused() -> None:
    value, headers = signed(data())
    padded = [(k, v + b"==" if k == "sig" else v) for k, v in headers]
    with pytest.raises(VerificationError, match="bad signature"):
        VERIFIER.verify(value, padded)


def test_chunks_are_signed_each_and_cannot_be_reordered() -> None:
    env = data(doc={"_key": "k", "blob": "x" * 40_000})
    records = [(v, SIGNER.sign(v, h)) for v, h in to_records(env, ChunkLimits(16 * 1024, 1024))]
    for v, h in records:
        VERIFIER.verify(v, h)
    (v0, h0), (_, h1) = records[0], records[1]
    moved = [(k, dict(h1)[k] if k == "chunk" else v) for k, v in h0]
    with pytest.raises(VerificationError):
        VERIFIER.verify(v0, moved)


def test_signed_bytes_are_unambiguous_between_absent_and_empty_headers() -> None:
    assert signed_bytes(b"k", b"v", {}) != signed_bytes(b"k", b"v", {"shard": b""})
    assert signed_bytes(b"k", b"v", {"shard": b"a", "seq": b"1"}) != signed_bytes(
        b"k", b"v", {"shard": b"a1", "seq": b""}
    )


def test_generate_keypair_writes_private_key_owner_only_and_loads_back(tmp_path: Path) -> None:
    private, public = generate_keypair(tmp_path / "keys", "dcA-2")
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    signer = Signer.from_file("dcA-2", private)
    verifier = Verifier(load_keyring(tmp_path / "keys"))
    assert verifier.verify(*signed(data(), signer)) == "dcA-2"
    assert public.name == "dcA-2.pub"


def test_generate_keypair_never_overwrites(tmp_path: Path) -> None:
    generate_keypair(tmp_path, "dcA-1")
    with pytest.raises(ConfigError, match="refusing to overwrite"):
        generate_keypair(tmp_path, "dcA-1")


def test_bad_key_files_and_ids_give_clear_errors(tmp_path: Path) -> None:
    (tmp_path / "x.key").write_text("not a key")
    with pytest.raises(ConfigError, match="cannot load private key"):
        load_private_key(tmp_path / "x.key")
    with pytest.raises(ConfigError, match="no public keys"):
        load_keyring(tmp_path)
    with pytest.raises(ConfigError, match="key id"):
        Signer("bad kid/..", KEY_A)
    with pytest.raises(ConfigError, match="at least one"):
        Verifier({})
