"""Optional TLS: the stand-in serves HTTPS and reports ssl:// endpoints."""
from __future__ import annotations

import datetime
import ipaddress
import os
import signal
import subprocess
import sys
import time

import orjson
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def _self_signed(tmp_path):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now)
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def test_cluster_over_tls(tmp_path):
    cert, key = _self_signed(tmp_path)
    ready = tmp_path / "ready.json"
    proc = subprocess.Popen([sys.executable, "-m", "dc2dc.devcluster.standin", "--tls-cert", str(cert),
                             "--tls-key", str(key), "--password", "pw", "--ready-file", str(ready)],
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while not ready.exists():
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        info = orjson.loads(ready.read_bytes())
        assert info["coordinator"].startswith("https://")
        r = requests.get(f"{info['coordinator']}/_admin/cluster/health", auth=("root", "pw"), verify=str(cert))
        endpoints = [h["Endpoint"] for h in r.json()["Health"].values() if h["Role"] == "DBServer"]
        assert endpoints and all(e.startswith("ssl://") for e in endpoints)
        r = requests.get(f"{info['dbservers'][0]}/_admin/server/role", auth=("root", "pw"), verify=str(cert))
        assert r.json()["role"] == "PRIMARY"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=15)
