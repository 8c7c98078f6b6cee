"""``dc2dc worker``: one Faust worker process for one DC in one role.

role ``source``: tails the DC's ArangoDB into its Kafka (every flow out of the DC shares the same
topics; MirrorMaker 2 fans them out). role ``destination``: applies the one flow that enters the DC.
A chain A→B→C runs in B both a destination worker (A→B) and a source worker (B→C).
"""

from __future__ import annotations

import logging
from pathlib import Path

import click

from dc2dc.agents.app import Component, WorkerSettings, create_app
from dc2dc.pipeline.errors import ConfigError
from dc2dc.pipeline.cert_watch import TlsFiles
from dc2dc.pipeline.secret_files import check_private, read_secret
from dc2dc.pipeline.topology import Datacenter, Topology, TopologyError, verifier_of_keys
from dc2dc.topics.signing import Signer, Verifier, load_private_key

log = logging.getLogger(__name__)


def signer_of(dc: Datacenter) -> Signer | None:
    """What ``dc`` signs with: its data and structure as a source, its feedback as a destination."""
    return Signer.for_key(load_private_key(Path(dc.signing_key))) if dc.signing_key else None


def source_components(topology: Topology, dc: Datacenter) -> list[Component]:
    from dc2dc.agents.source import SourceComponent, SourceSettings

    destinations = topology.targets_of(dc.id)
    feedback_verifier = verifier_of_keys([topology.dcs[d] for d in destinations])
    if feedback_verifier is None and destinations:
        log.warning("acting on UNSIGNED feedback from %s (no verify_key in the topology)", ", ".join(destinations))
    settings = SourceSettings(
        src=dc.id, kafka=dc.kafka, arangodb=dc.endpoint(),
        destinations=tuple(destinations), signer=signer_of(dc), feedback_verifier=feedback_verifier,
    )
    return [SourceComponent(settings)]


def verifier_for(src: Datacenter, allow_unsigned: bool) -> Verifier | None:
    """The source's public keys; without one, nothing is applied unless unsigned data is allowed."""
    verifier = verifier_of_keys([src])
    if verifier is not None:
        return verifier
    if allow_unsigned:
        log.warning("applying UNSIGNED messages from DC %s (--allow-unsigned)", src.id)
        return None
    raise ConfigError(f"DC {src.id!r} has no verify_key in the topology; refusing to apply unverified "
                      f"messages (pass --allow-unsigned only on a trusted test setup)")


def source_of(topology: Topology, dc: Datacenter) -> Datacenter:
    sources = topology.sources_of(dc.id)
    if not sources:
        raise ConfigError(f"no replication flow enters DC {dc.id!r}")
    return topology.dcs[sources[0]]  # the topology refuses more than one source per DC


def destination_components(src: Datacenter, dc: Datacenter, verifier: Verifier | None) -> list[Component]:
    from dc2dc.agents.destination import DestinationConfig, DestinationWorker
    http = dc.endpoint().connect()
    config = DestinationConfig(src=src.id, dst=dc.id, bootstrap=dc.kafka)
    return [DestinationWorker(config, http, verifier=verifier, signer=signer_of(dc))]


def _web_tls(cert: Path | None, key: Path | None, client_ca: Path | None) -> TlsFiles | None:
    if cert is None and key is None:
        if client_ca is not None:
            raise ConfigError("--web-client-ca needs --web-tls-cert and --web-tls-key")
        return None
    if cert is None or key is None:
        raise ConfigError("--web-tls-cert and --web-tls-key go together")
    check_private(key)
    return TlsFiles(cert, key, client_ca)


@click.command()
@click.option("--role", type=click.Choice(["source", "destination"]), required=True)
@click.option("--topology", "topology_path", type=click.Path(exists=True, dir_okay=False), required=True)
@click.option("--dc", "dc_id", required=True, help="the DC this worker runs in")
@click.option("--web-port", type=int, default=6066, show_default=True, help="/metrics and /status")
@click.option("--web-bind", default="127.0.0.1", show_default=True,
              help="the address /metrics and /status listen on (open to all without --monitoring-token-file)")
@click.option("--monitoring-token-file", type=click.Path(exists=True, dir_okay=False),
              help="a file (mode 0600) holding the token /metrics and /status require as 'Authorization: Bearer'")
@click.option("--certificate", "certificates", multiple=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="a certificate this worker's setup uses: expiry in /metrics, a warning 30 days ahead; repeat")
@click.option("--web-tls-cert", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="serve /metrics and /status over HTTPS with this certificate (reloaded when replaced)")
@click.option("--web-tls-key", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="the private key of --web-tls-cert (mode 0600)")
@click.option("--web-client-ca", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="with --web-tls-cert: answer only clients showing a certificate this CA signed")
@click.option("--allow-unsigned", is_flag=True, help="destination: apply messages without a verified signature")
@click.option("--loglevel", default="info", show_default=True)
def worker(role: str, topology_path: str, dc_id: str, web_port: int, web_bind: str, monitoring_token_file: str | None,
           certificates: tuple[Path, ...], web_tls_cert: Path | None, web_tls_key: Path | None,
           web_client_ca: Path | None, allow_unsigned: bool, loglevel: str) -> None:
    """Run a replication worker (a Faust worker process) until stopped."""
    try:
        web_tls = _web_tls(web_tls_cert, web_tls_key, web_client_ca)
        token = read_secret(monitoring_token_file) if monitoring_token_file else None
        if token == "":
            raise ConfigError(f"monitoring token file {monitoring_token_file} is empty")
        topology = Topology.load(topology_path)
        if dc_id not in topology.dcs:
            raise click.BadParameter(f"unknown DC {dc_id!r}", param_hint="--dc")
        dc = topology.dcs[dc_id]
        if role == "source":
            build = lambda: source_components(topology, dc)  # noqa: E731
        else:
            # Resolved before Faust starts, so a missing key or flow fails with a readable message.
            src = source_of(topology, dc)
            verifier = verifier_for(src, allow_unsigned)
            build = lambda: destination_components(src, dc, verifier)  # noqa: E731
        # Inside the try: a TLS key that does not match its certificate is refused here, readably.
        app = create_app(WorkerSettings(app_id=f"dc2dc-{role}-{dc_id}", kafka_bootstrap=dc.kafka, web_bind=web_bind,
                                        web_port=web_port, monitoring_token=token, certificates=certificates,
                                        web_tls=web_tls), build)
    except (ConfigError, TopologyError, OSError) as e:
        raise click.ClickException(str(e)) from None
    app.finalize()
    from faust.worker import Worker

    Worker(app, loglevel=loglevel, quiet=True).execute_from_commandline()
