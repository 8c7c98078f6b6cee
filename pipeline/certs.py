"""Certificates for dc2dc's TLS hops: a CA, server certificates, client certificates, and a reader.

PEM files only, as Kafka (``ssl.keystore.type=PEM``), aiohttp and MirrorMaker 2 all take them.
Keys are ECDSA P-256: as strong as RSA-3072, generated in milliseconds, accepted by every TLS
stack dc2dc talks to. Private keys are written 0600 from creation (``secret_files.write_private``)
and nothing here overwrites an existing file: rotation writes new files, then moves them into place,
which is what the workers' reload watches for (``pipeline/cert_watch.py``).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from dc2dc.pipeline.secret_files import check_private, write_private
from dc2dc.topics.errors import ConfigError

DEFAULT_HOSTS = ("127.0.0.1", "localhost")
CA_DAYS = 3650
LEAF_DAYS = 825      # the longest lifetime browsers and most TLS policies still accept for a leaf
# A certificate valid from "now" is refused by a peer whose clock is a little behind.
_BACKDATE = dt.timedelta(minutes=5)


@dataclass(frozen=True)
class CertificateInfo:
    path: str
    subject: str
    issuer: str
    sans: tuple[str, ...]
    not_before: dt.datetime
    not_after: dt.datetime
    ca: bool

    def seconds_left(self, now: dt.datetime | None = None) -> float:
        return (self.not_after - (now or dt.datetime.now(dt.timezone.utc))).total_seconds()

    def days_left(self, now: dt.datetime | None = None) -> float:
        return self.seconds_left(now) / 86400

    def as_dict(self) -> dict[str, Any]:
        return {"path": self.path, "subject": self.subject, "issuer": self.issuer, "sans": list(self.sans),
                "not_before": self.not_before.isoformat(), "not_after": self.not_after.isoformat(),
                "days_left": round(self.days_left(), 2), "ca": self.ca}


def create_ca(cert_path: Path, key_path: Path, *, common_name: str = "dc2dc CA", days: int = CA_DAYS) -> None:
    """A self-signed CA that may sign leaf certificates only (path length 0)."""
    key = _new_key()
    name = _name(common_name)
    builder = (_builder(name, name, key.public_key(), days)
               .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
               .add_extension(_key_usage(cert_sign=True), critical=True)
               .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(key.public_key()), critical=False))
    _write(cert_path, key_path, builder.sign(key, hashes.SHA256()), key)


def create_server(ca_cert: Path, ca_key: Path, cert_path: Path, key_path: Path, *,
                  hosts: Sequence[str] = DEFAULT_HOSTS, common_name: str | None = None,
                  days: int = LEAF_DAYS) -> None:
    """A server certificate for ``hosts`` (DNS names and IP addresses), signed by the CA."""
    if not hosts:
        raise ConfigError("a server certificate needs at least one host name or IP address")
    _issue_leaf(ca_cert, ca_key, cert_path, key_path, common_name or hosts[0], days,
                ExtendedKeyUsageOID.SERVER_AUTH, x509.SubjectAlternativeName([_general_name(h) for h in hosts]))


def create_client(ca_cert: Path, ca_key: Path, cert_path: Path, key_path: Path, *, common_name: str,
                  days: int = LEAF_DAYS) -> None:
    """A client certificate naming its holder in the subject's CN (Kafka's default principal)."""
    _issue_leaf(ca_cert, ca_key, cert_path, key_path, common_name, days, ExtendedKeyUsageOID.CLIENT_AUTH, None)


def describe(path: Path) -> CertificateInfo:
    """What ``certs show`` prints: the first certificate in a PEM file."""
    cert = load_certificate(path)
    try:
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names = tuple([*sans.get_values_for_type(x509.DNSName),
                       *(str(ip) for ip in sans.get_values_for_type(x509.IPAddress))])
    except x509.ExtensionNotFound:
        names = ()
    try:
        ca = cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        ca = False
    return CertificateInfo(path=str(path), subject=cert.subject.rfc4514_string(), issuer=cert.issuer.rfc4514_string(),
                           sans=names, not_before=cert.not_valid_before_utc, not_after=cert.not_valid_after_utc, ca=ca)


def load_certificate(path: Path) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(path.read_bytes())
    except (OSError, ValueError) as e:
        raise ConfigError(f"cannot read a PEM certificate from {path}: {e}") from None


def _issue_leaf(ca_cert: Path, ca_key: Path, cert_path: Path, key_path: Path, common_name: str, days: int,
                usage: x509.ObjectIdentifier, sans: x509.SubjectAlternativeName | None) -> None:
    issuer_cert = load_certificate(ca_cert)
    issuer_key = _load_key(ca_key)
    key = _new_key()
    builder = (_builder(_name(common_name), issuer_cert.subject, key.public_key(), days)
               .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
               .add_extension(_key_usage(cert_sign=False), critical=True)
               .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
               .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
                              critical=False))
    if sans is not None:
        builder = builder.add_extension(sans, critical=False)
    _write(cert_path, key_path, builder.sign(issuer_key, hashes.SHA256()), key)


def _builder(subject: x509.Name, issuer: x509.Name, public_key: ec.EllipticCurvePublicKey,
             days: int) -> x509.CertificateBuilder:
    if days < 1:
        raise ConfigError(f"a certificate must be valid for at least one day, not {days}")
    now = dt.datetime.now(dt.timezone.utc)
    return (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - _BACKDATE).not_valid_after(now + dt.timedelta(days=days))
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False))


def _key_usage(*, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=not cert_sign,
                         data_encipherment=False, key_agreement=False, key_cert_sign=cert_sign, crl_sign=cert_sign,
                         encipher_only=False, decipher_only=False)


def _general_name(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _load_key(path: Path) -> ec.EllipticCurvePrivateKey:
    check_private(path)
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as e:
        raise ConfigError(f"cannot load the CA key {path}: {e}") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ConfigError(f"{path} is not an EC private key made by `dc2dc certs create-ca`")
    return key


def _write(cert_path: Path, key_path: Path, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> None:
    for path in (cert_path, key_path):
        if path.exists():
            raise ConfigError(f"{path} exists; refusing to overwrite it")
    write_private(key_path, key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                              serialization.NoEncryption()))
    with open(cert_path, "xb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
