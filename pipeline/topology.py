"""Topology: which datacenters exist, how to reach them, and which replicates to which.

One TOML file describes it all; the CLI, the workers, MirrorMaker 2's configuration and
docker-compose all read the same file::

    [dc.A]
    kafka = "127.0.0.1:19092"               # bootstrap servers of A's Kafka
    arangodb = "http://127.0.0.1:8529"      # a coordinator (or single server) of A
    username = "root"                       # optional, default "root"
    password_file = "secrets/A.password"    # optional; or password_env = "DC2DC_A_PASSWORD"
    jwt_secret_file = "secrets/A.jwt"       # a cluster source: superuser JWT secret to tail DBServers
    signing_key = "keys/A.key"              # Ed25519 private key A's source worker signs with
    verify_key = "keys/A.pub"               # A's public key: destinations apply nothing unverified
                                            # (or a list: during a key rotation, old and new key)

    [dc.B]
    kafka = "127.0.0.1:29092"
    arangodb = "http://127.0.0.1:8539"

    [[replication]]
    from = "A"
    to = "B"

A replication flow is one direction. Fan-out is several flows from one source, a chain is a
flow whose source is another flow's destination. Cycles are refused: MirrorMaker 2's
IdentityReplicationPolicy keeps topic names and so cannot detect a loop.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from dc2dc.pipeline.arango.endpoint import ArangoEndpoint
from dc2dc.pipeline.secret_files import Secret, SecretFileError, check_private, read_secret
from dc2dc.topics.errors import ConfigError
from dc2dc.topics.signing import Verifier, load_public_key

_DC_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_DC_KEYS = {"kafka", "arangodb", "username", "password_file", "password_env", "jwt_secret_file",
            "jwt_secret_env", "signing_key", "verify_key"}


class TopologyError(ConfigError):
    """The topology file is malformed or describes an impossible setup."""


@dataclass(frozen=True)
class Datacenter:
    id: str
    kafka: str
    arangodb: str
    username: str = "root"
    password_file: str | None = None
    password_env: str | None = None
    jwt_secret_file: str | None = None
    jwt_secret_env: str | None = None
    signing_key: str | None = None
    verify_key: tuple[str, ...] = ()        # A's public keys (a set: rotation with an overlap)

    def jwt_secret(self) -> Secret | None:
        """The cluster's JWT secret (None: basic auth also on DBServers, or a single server)."""
        if self.jwt_secret_file:
            return read_secret(self.jwt_secret_file)
        if self.jwt_secret_env:
            return Secret(os.environ.get(self.jwt_secret_env, "")) or None
        return None

    def password(self) -> Secret:
        """The ArangoDB password, read from a file or the environment, never from the TOML itself."""
        if self.password_file:
            return read_secret(self.password_file)
        return Secret(os.environ.get(self.password_env, "") if self.password_env else "")

    def endpoint(self) -> ArangoEndpoint:
        """This DC's ArangoDB with its credentials, the secrets read now (so a loosened file is refused)."""
        return ArangoEndpoint(self.arangodb, username=self.username, password=self.password(),
                              jwt_secret=self.jwt_secret())

    def secret_files(self) -> list[str]:
        return [f for f in (self.password_file, self.jwt_secret_file, self.signing_key) if f]


def _paths(value: object, base: Path | None, what: str) -> tuple[str, ...]:
    """One path or a list of them; relative ones are relative to the topology file."""
    if value is None:
        return ()
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list) or not all(isinstance(v, str) and v for v in values):
        raise TopologyError(f"{what} must be a path or a list of paths")
    return tuple(v if base is None or Path(v).is_absolute() else str(base / v) for v in values)


@dataclass(frozen=True)
class Flow:
    source: str
    target: str


@dataclass(frozen=True)
class Topology:
    dcs: dict[str, Datacenter]
    flows: tuple[Flow, ...] = field(default_factory=tuple)

    def sources_of(self, dc: str) -> list[str]:
        """DCs that replicate into ``dc``."""
        return [f.source for f in self.flows if f.target == dc]

    def targets_of(self, dc: str) -> list[str]:
        """DCs that ``dc`` replicates to."""
        return [f.target for f in self.flows if f.source == dc]

    @classmethod
    def load(cls, path: str | Path) -> Topology:
        """The topology in ``path``; refused when a secret file it names is open to other users.

        Checked here, before anything connects, so no command runs on a leaked secret. A file that
        does not exist (yet) is reported by whatever reads it.
        """
        with open(path, "rb") as fh:
            topology = cls.from_dict(tomllib.load(fh), base=Path(path).parent)
        for dc in topology.dcs.values():
            for secret in dc.secret_files():
                if Path(secret).exists():
                    try:
                        check_private(secret)
                    except SecretFileError as e:
                        raise TopologyError(f"[dc.{dc.id}] in {path}: {e}") from None
        return topology

    @classmethod
    def from_dict(cls, data: dict, base: Path | None = None) -> Topology:
        raw_dcs = data.get("dc")
        if not isinstance(raw_dcs, dict) or not raw_dcs:
            raise TopologyError("topology needs at least one [dc.<id>] table")
        dcs: dict[str, Datacenter] = {}
        for dc_id, spec in raw_dcs.items():
            if not _DC_ID.match(dc_id):
                raise TopologyError(f"DC id {dc_id!r} may only contain letters, digits, '_' and '-'")
            if not isinstance(spec, dict) or "kafka" not in spec or "arangodb" not in spec:
                raise TopologyError(f"[dc.{dc_id}] needs 'kafka' and 'arangodb'")
            unknown = set(spec) - _DC_KEYS
            if unknown:
                raise TopologyError(f"[dc.{dc_id}] has unknown keys: {sorted(unknown)}")

            def path(key: str) -> str | None:
                # Relative paths are relative to the topology file, not to the working directory.
                value = spec.get(key)
                if value and base is not None and not Path(value).is_absolute():
                    return str(base / value)
                return value

            dcs[dc_id] = Datacenter(
                id=dc_id,
                kafka=spec["kafka"],
                arangodb=spec["arangodb"],
                username=spec.get("username", "root"),
                password_file=path("password_file"),
                password_env=spec.get("password_env"),
                jwt_secret_file=path("jwt_secret_file"),
                jwt_secret_env=spec.get("jwt_secret_env"),
                signing_key=path("signing_key"),
                verify_key=_paths(spec.get("verify_key"), base, f"[dc.{dc_id}] verify_key"),
            )
        flows = []
        for entry in data.get("replication", []):
            src, dst = entry.get("from"), entry.get("to")
            if src not in dcs or dst not in dcs:
                raise TopologyError(f"replication {src!r} -> {dst!r} names an unknown DC")
            if src == dst:
                raise TopologyError(f"replication {src!r} -> {dst!r} replicates a DC into itself")
            flow = Flow(src, dst)
            if flow in flows:
                raise TopologyError(f"replication {src!r} -> {dst!r} is listed twice")
            flows.append(flow)
        topology = cls(dcs=dcs, flows=tuple(flows))
        topology._refuse_cycles()
        topology._refuse_two_sources()
        return topology

    def _refuse_cycles(self) -> None:
        state: dict[str, int] = {}

        def visit(dc: str, path: list[str]) -> None:
            if state.get(dc) == 1:
                raise TopologyError("replication cycle: " + " -> ".join(path + [dc]))
            if state.get(dc) == 2:
                return
            state[dc] = 1
            for nxt in self.targets_of(dc):
                visit(nxt, path + [dc])
            state[dc] = 2

        for dc in self.dcs:
            visit(dc, [])

    def _refuse_two_sources(self) -> None:
        # A destination mirrors one source exactly; two sources writing into one cluster
        # would make it a merge, which dc2dc does not do.
        for dc in self.dcs:
            if len(self.sources_of(dc)) > 1:
                raise TopologyError(f"DC {dc!r} has more than one source: {self.sources_of(dc)}")


def verifier_of_keys(dcs: list[Datacenter]) -> Verifier | None:
    """A verifier trusting every verify key of ``dcs`` (None if they have none)."""
    keys = [load_public_key(Path(path)) for dc in dcs for path in dc.verify_key]
    return Verifier.of_keys(keys) if keys else None
