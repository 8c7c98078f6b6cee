"""``dc2dc certs``: make a CA, server and client certificates, and show what a certificate holds."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import click
import orjson

from dc2dc.pipeline import certs
from dc2dc.topics.errors import ConfigError

_file = click.Path(dir_okay=False, path_type=Path)
_existing = click.Path(exists=True, dir_okay=False, path_type=Path)
F = TypeVar("F", bound=Callable[..., None])


def _ca_options(f: F) -> F:
    f = click.option("--ca-key", type=_existing, required=True, help="the CA's private key (PEM)")(f)
    return click.option("--ca-cert", type=_existing, required=True, help="the CA's certificate (PEM)")(f)


def _out_options(f: F) -> F:
    f = click.option("--key", "key_path", type=_file, required=True, help="private key to write (mode 0600)")(f)
    return click.option("--cert", "cert_path", type=_file, required=True, help="certificate to write")(f)


def _run(make: Callable[..., None], *args: object, **kwargs: object) -> None:
    try:
        make(*args, **kwargs)
    except ConfigError as e:
        raise click.ClickException(str(e)) from None


@click.group("certs")
def certs_group() -> None:
    """TLS certificates for Kafka, ArangoDB and the workers (PEM files)."""


@certs_group.command("create-ca")
@_out_options
@click.option("--common-name", default="dc2dc CA", show_default=True)
@click.option("--days", type=int, default=certs.CA_DAYS, show_default=True)
def create_ca(cert_path: Path, key_path: Path, common_name: str, days: int) -> None:
    """Create a self-signed CA that signs server and client certificates."""
    _run(certs.create_ca, cert_path, key_path, common_name=common_name, days=days)
    click.echo(f"wrote {cert_path} and {key_path}")


@certs_group.command("create-server")
@_ca_options
@_out_options
@click.option("--host", "hosts", multiple=True,
              help=f"DNS name or IP address the server is reached by; repeat (default: {', '.join(certs.DEFAULT_HOSTS)})")
@click.option("--common-name", help="default: the first --host")
@click.option("--days", type=int, default=certs.LEAF_DAYS, show_default=True)
def create_server(ca_cert: Path, ca_key: Path, cert_path: Path, key_path: Path, hosts: tuple[str, ...],
                  common_name: str | None, days: int) -> None:
    """Create a server certificate signed by the CA."""
    _run(certs.create_server, ca_cert, ca_key, cert_path, key_path, hosts=hosts or certs.DEFAULT_HOSTS,
         common_name=common_name, days=days)
    click.echo(f"wrote {cert_path} and {key_path}")


@certs_group.command("create-client")
@_ca_options
@_out_options
@click.option("--common-name", required=True, help="who holds it, e.g. dc2dc-worker-A")
@click.option("--days", type=int, default=certs.LEAF_DAYS, show_default=True)
def create_client(ca_cert: Path, ca_key: Path, cert_path: Path, key_path: Path, common_name: str, days: int) -> None:
    """Create a client certificate signed by the CA."""
    _run(certs.create_client, ca_cert, ca_key, cert_path, key_path, common_name=common_name, days=days)
    click.echo(f"wrote {cert_path} and {key_path}")


@certs_group.command("show")
@click.argument("path", type=_existing)
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
def show(path: Path, as_json: bool) -> None:
    """Print a certificate's subject, issuer, SANs, validity and days to expiry."""
    try:
        info = certs.describe(path)
    except ConfigError as e:
        raise click.ClickException(str(e)) from None
    if as_json:
        click.echo(orjson.dumps(info.as_dict()).decode())
        return
    shown = info.as_dict()
    for label, key in (("subject", "subject"), ("issuer", "issuer"), ("not before", "not_before"),
                       ("not after", "not_after"), ("days left", "days_left"), ("CA", "ca")):
        click.echo(f"{label:<11} {shown[key]}")
    click.echo(f"{'SANs':<11} {', '.join(info.sans) or '-'}")
