"""`dc2dc certs` as an operator uses it: what it writes must work in a real TLS handshake."""

from __future__ import annotations

import ssl
import stat
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from dc2dc.pipeline import cert_watch
from dc2dc.pipeline.ops.cli import main
from tls_helpers import client_context, tls_exchange


def dc2dc(*args: str | Path) -> str:
    result = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def make_ca(folder: Path, name: str = "ca") -> tuple[Path, Path]:
    cert, key = folder / f"{name}.pem", folder / f"{name}.key"
    dc2dc("certs", "create-ca", "--cert", cert, "--key", key, "--common-name", f"test {name}")
    return cert, key


def make_server(folder: Path, ca: tuple[Path, Path], *hosts: str, days: int | None = None) -> tuple[Path, Path]:
    cert, key = folder / "server.pem", folder / "server.key"
    args: list[str | Path] = ["certs", "create-server", "--ca-cert", ca[0], "--ca-key", ca[1], "--cert", cert, "--key", key]
    for host in hosts:
        args += ["--host", host]
    if days is not None:
        args += ["--days", str(days)]
    dc2dc(*args)
    return cert, key


def make_client(folder: Path, ca: tuple[Path, Path], name: str) -> tuple[Path, Path]:
    cert, key = folder / f"{name}.pem", folder / f"{name}.key"
    dc2dc("certs", "create-client", "--ca-cert", ca[0], "--ca-key", ca[1], "--cert", cert, "--key", key,
          "--common-name", name)
    return cert, key


def server_context(cert: Path, key: Path, client_ca: Path | None = None) -> ssl.SSLContext:
    return cert_watch.server_context(cert_watch.TlsFiles(cert, key, client_ca))


async def test_a_server_certificate_verifies_against_its_ca_and_the_host_name(tmp_path: Path) -> None:
    ca = make_ca(tmp_path)
    server = make_server(tmp_path, ca)
    assert await tls_exchange(server_context(*server), client_context(ca[0]), "127.0.0.1") == [""]
    assert await tls_exchange(server_context(*server), client_context(ca[0]), "localhost") == [""]


async def test_a_server_certificate_is_refused_by_a_client_trusting_another_ca(tmp_path: Path) -> None:
    ca, other = make_ca(tmp_path), make_ca(tmp_path, "other")
    server = make_server(tmp_path, ca)
    with pytest.raises(ssl.SSLCertVerificationError, match="unable to get local issuer"):
        await tls_exchange(server_context(*server), client_context(other[0]))


async def test_a_server_certificate_is_refused_for_a_host_it_does_not_name(tmp_path: Path) -> None:
    ca = make_ca(tmp_path)
    server = make_server(tmp_path, ca, "kafka-a.example", "10.0.0.7")
    with pytest.raises(ssl.SSLCertVerificationError, match="mismatch"):
        await tls_exchange(server_context(*server), client_context(ca[0]), "127.0.0.1")
    assert await tls_exchange(server_context(*server), client_context(ca[0]), "10.0.0.7") == [""]


async def test_a_server_requiring_client_certificates_accepts_the_cas_client_and_refuses_none(tmp_path: Path) -> None:
    ca = make_ca(tmp_path)
    server = make_server(tmp_path, ca)
    client = make_client(tmp_path, ca, "dc2dc-worker-A")
    requiring = server_context(*server, client_ca=ca[0])
    assert await tls_exchange(requiring, client_context(ca[0], client)) == ["dc2dc-worker-A"]
    assert await tls_exchange(requiring, client_context(ca[0])) == []


async def test_a_client_certificate_of_another_ca_is_refused(tmp_path: Path) -> None:
    ca, other = make_ca(tmp_path), make_ca(tmp_path, "other")
    server = make_server(tmp_path, ca)
    stranger = make_client(tmp_path, other, "stranger")
    assert await tls_exchange(server_context(*server, client_ca=ca[0]), client_context(ca[0], stranger)) == []


def test_private_keys_are_written_owner_only_and_nothing_is_overwritten(tmp_path: Path) -> None:
    ca = make_ca(tmp_path)
    server = make_server(tmp_path, ca)
    client = make_client(tmp_path, ca, "c")
    for key in (ca[1], server[1], client[1]):
        assert stat.S_IMODE(key.stat().st_mode) == 0o600, key
    before = server[0].read_bytes()
    result = CliRunner().invoke(main, ["certs", "create-server", "--ca-cert", str(ca[0]), "--ca-key", str(ca[1]),
                                       "--cert", str(server[0]), "--key", str(tmp_path / "new.key")])
    assert result.exit_code != 0 and "refusing to overwrite" in result.output
    assert server[0].read_bytes() == before


def test_certs_show_prints_subject_sans_and_expiry(tmp_path: Path) -> None:
    ca = make_ca(tmp_path)
    server = make_server(tmp_path, ca, "kafka-a.example", "127.0.0.1", days=10)
    text = dc2dc("certs", "show", server[0])
    assert "CN=kafka-a.example" in text and "CN=test ca" in text
    assert "kafka-a.example, 127.0.0.1" in text
    assert "days left   9.99" in text or "days left   10.0" in text
    shown = orjson.loads(dc2dc("certs", "show", "--json", server[0]))
    assert shown["sans"] == ["kafka-a.example", "127.0.0.1"]
    assert shown["subject"] == "CN=kafka-a.example" and shown["issuer"] == "CN=test ca" and shown["ca"] is False
    assert 9.99 <= shown["days_left"] <= 10.01
    assert orjson.loads(dc2dc("certs", "show", "--json", ca[0]))["ca"] is True


def test_a_ca_key_readable_by_others_is_refused(tmp_path: Path) -> None:
    ca = make_ca(tmp_path)
    ca[1].chmod(0o644)
    result = CliRunner().invoke(main, ["certs", "create-client", "--ca-cert", str(ca[0]), "--ca-key", str(ca[1]),
                                       "--cert", str(tmp_path / "c.pem"), "--key", str(tmp_path / "c.key"),
                                       "--common-name", "c"])
    assert result.exit_code != 0
    assert f"secret file {ca[1]} has mode 0644" in result.output
