"""A whole dev environment: per DC a Kafka broker and an ArangoDB stand-in, MM2 per receiving DC.

``start_environment`` starts everything (in parallel where it can: JVM start-up dominates),
writes ``topology.toml`` (the format of :mod:`dc2dc.pipeline.topology`) and ``environment.json``
(what ``dc2dc dev up --json`` prints) into the state folder, and returns once every part is
really ready. ``stop_environment`` needs only the state folder, so it also cleans up after a
run that crashed.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from dc2dc.devcluster import kafka, mm2, processes
from dc2dc.mirrormaker.config import MirrorSettings, mirror_dcs, replication_pairs
from dc2dc.pipeline.secret_files import write_private
from dc2dc.pipeline.topology import Topology, TopologyError
from dc2dc.topics.signing import generate_keypair

ENV_FILE = "environment.json"
MARKER = ".dc2dc-dev"

T = TypeVar("T")
R = TypeVar("R")


class DevEnvError(RuntimeError):
    """The dev environment cannot be started or its state folder is not ours."""


@dataclass(frozen=True)
class EnvSpec:
    state_dir: Path
    dcs: tuple[str, ...] = ("A", "B")
    flows: tuple[tuple[str, str], ...] = (("A", "B"),)
    arangodb: bool = True
    arangodb_version: str = "3.12"  # the release every DC's stand-in answers as
    mirror_settings: MirrorSettings = field(default_factory=MirrorSettings)


@dataclass
class DevEnvironment:
    spec: EnvSpec
    topology_path: Path
    lib: Path
    brokers: dict[str, kafka.Broker] = field(default_factory=dict)
    mirrormakers: dict[str, mm2.MirrorMaker] = field(default_factory=dict)
    arangodb: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def state_dir(self) -> Path:
        return self.spec.state_dir

    def bootstrap(self, dc: str) -> str:
        return self.brokers[dc].bootstrap

    def topology(self) -> Topology:
        return Topology.load(self.topology_path)

    def kill_mirrormaker(self, dc: str) -> None:
        """``kill -9`` the MM2 process running in ``dc``."""
        mm2.kill_hard(self.mirrormakers[dc])

    def start_mirrormaker(self, dc: str) -> None:
        """(Re)start the MM2 process in ``dc`` with its existing config; returns once it mirrors."""
        mm2.start(self.mirrormakers[dc])

    def restart_broker(self, dc: str) -> None:
        """Orderly stop and start of ``dc``'s broker on the same ports and data."""
        kafka.stop(self.brokers[dc])
        kafka.start(self.brokers[dc])

    def to_json(self) -> dict[str, Any]:
        return {
            "state_dir": str(self.state_dir),
            "topology": str(self.topology_path),
            "dcs": {
                dc: {
                    "kafka": {"bootstrap": b.bootstrap, "pid": b.process.pid if b.process else None,
                              "home": str(b.home)},
                    "arangodb": self.arangodb.get(dc),
                }
                for dc, b in self.brokers.items()
            },
            "mirrormaker": {
                dc: {"pid": m.process.pid if m.process else None, "config": str(m.config_path),
                     "pairs": [p.key for p in m.pairs]}
                for dc, m in self.mirrormakers.items()
            },
        }

    def stop(self) -> None:
        """Stop what this environment started, then anything else recorded in its state folder."""
        _parallel(mm2.stop, self.mirrormakers.values())
        _parallel(kafka.stop, self.brokers.values())
        stop_environment(self.state_dir)


def parse_flows(text: str) -> tuple[tuple[str, str], ...]:
    """``"A:B,B:C"`` -> ``(("A", "B"), ("B", "C"))``."""
    flows = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        src, sep, dst = item.partition(":")
        if not sep or not src or not dst:
            raise TopologyError(f"flow {item!r} must look like SOURCE:TARGET")
        flows.append((src, dst))
    return tuple(flows)


def start_environment(spec: EnvSpec) -> DevEnvironment:
    """Start brokers, stand-ins and MM2 for ``spec``; everything is stopped again if a part fails."""
    _prepare_state_dir(spec.state_dir)
    lib = kafka.ensure_jars()
    standin = _standin_launcher() if spec.arangodb else None
    if spec.arangodb and standin is None:
        print("dc2dc: the ArangoDB stand-in is not available yet; starting Kafka and MirrorMaker 2 only",
              file=sys.stderr)
    env = DevEnvironment(spec, spec.state_dir / "topology.toml", lib)
    try:
        jobs = [partial(_start_broker, env, dc) for dc in spec.dcs]
        if standin is not None:
            jobs += [partial(_start_arangodb, env, standin[0], dc) for dc in spec.dcs]
        _parallel(lambda job: job(), jobs)
        _write_topology(env)
        topology = env.topology()
        mm2.create_probe_topics(topology, replication_pairs(topology))
        _parallel(lambda dc: _start_mirrormaker(env, topology, dc), mirror_dcs(topology))
        # It records the stand-ins' passwords and JWT secrets: owner-only, like the secret files.
        write_private(spec.state_dir / ENV_FILE, (json.dumps(env.to_json(), indent=2) + "\n").encode())
    except BaseException:
        env.stop()
        raise
    return env


def _start_arangodb(env: DevEnvironment, start_standin: Callable[..., dict], dc: str) -> None:
    env.arangodb[dc] = start_standin(env.state_dir, dc, arangodb_version=env.spec.arangodb_version)


def _start_broker(env: DevEnvironment, dc: str) -> None:
    def attempt() -> None:
        if dc in env.brokers:
            kafka.stop(env.brokers[dc])
        env.brokers[dc] = kafka.new_broker(env.state_dir, dc, env.lib)
        kafka.start(env.brokers[dc])
    _retry_on_port_clash(attempt)


def _start_mirrormaker(env: DevEnvironment, topology: Topology, dc: str) -> None:
    def attempt() -> None:
        if dc in env.mirrormakers:
            mm2.stop(env.mirrormakers[dc])
        env.mirrormakers[dc] = mm2.new_mirrormaker(env.state_dir, topology, dc, env.lib, env.spec.mirror_settings)
        mm2.start(env.mirrormakers[dc])
    _retry_on_port_clash(attempt)


def stop_environment(state_dir: Path) -> list[str]:
    """Stop every dev process recorded under ``state_dir``; returns the names of those stopped."""
    stopped: list[str] = []
    if not state_dir.exists():
        return stopped
    standin = _standin_launcher()
    if standin is not None:
        for dc in _recorded_arangodb_dcs(state_dir):
            standin[1](state_dir, dc)
            stopped.append(f"arangodb[{dc}]")
    found = [p for p in processes.leftovers(state_dir) if p.alive()]
    # MM2 first, so it does not spin on vanished brokers.
    for group in ([p for p in found if p.name == "mm2"], [p for p in found if p.name != "mm2"]):
        _parallel(lambda p: processes.stop(p, timeout=30), group)
        stopped += [f"{p.name} (pid {p.pid}, {p.pid_file.parent})" for p in group]
    for stale in processes.leftovers(state_dir):
        if not stale.alive():
            stale.pid_file.unlink(missing_ok=True)
    (state_dir / ENV_FILE).unlink(missing_ok=True)
    return stopped


def status(state_dir: Path) -> dict[str, Any]:
    """What the last ``up`` recorded and which of its processes still run."""
    env_file = state_dir / ENV_FILE
    recorded = json.loads(env_file.read_text()) if env_file.exists() else None
    procs = [{"name": p.name, "pid": p.pid, "running": p.alive(), "dir": str(p.pid_file.parent)}
             for p in processes.leftovers(state_dir)] if state_dir.exists() else []
    return {"state_dir": str(state_dir), "running": any(p["running"] for p in procs),
            "processes": procs, "environment": recorded}


def default_state_dir() -> Path:
    """``$DC2DC_DEV_STATE``, else ``$XDG_STATE_HOME/dc2dc/dev`` (``~/.local/state/dc2dc/dev``)."""
    if os.environ.get("DC2DC_DEV_STATE"):
        return Path(os.environ["DC2DC_DEV_STATE"])
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "dc2dc" / "dev"


def _prepare_state_dir(state_dir: Path) -> None:
    # A fresh run needs fresh clusters: MM2 keeps its progress in Kafka, and a half-reused pair of
    # clusters makes it believe data was mirrored already. So the folder is wiped - but only if
    # it is ours and nothing of it still runs.
    if state_dir.exists() and any(state_dir.iterdir()):
        if not (state_dir / MARKER).exists():
            raise DevEnvError(f"{state_dir} is not empty and not a dc2dc dev state folder; "
                                    "choose another --state-dir")
        running = [p for p in processes.leftovers(state_dir) if p.alive()]
        if running or (state_dir / ENV_FILE).exists():
            raise DevEnvError(f"a dev environment is already running in {state_dir}; "
                                    "run `dc2dc dev down` first")
        shutil.rmtree(state_dir)
    state_dir.mkdir(parents=True, exist_ok=True)
    (state_dir / MARKER).write_text("dc2dc dev cluster state; `dc2dc dev down` stops it\n")


def _write_topology(env: DevEnvironment) -> None:
    lines = ["# Written by `dc2dc dev up`: the dev environment's topology.", ""]
    for dc in env.spec.dcs:
        arango = env.arangodb.get(dc)
        lines += [f"[dc.{dc}]", f"kafka = {json.dumps(env.bootstrap(dc))}",
                  f"arangodb = {json.dumps(arango['coordinator'] if arango else '')}"]
        if arango:
            lines += [f"username = {json.dumps(arango.get('username', 'root'))}",
                      f"password_file = {json.dumps(_secret_file(env, dc, 'arangodb.password', arango['password']))}",
                      f"jwt_secret_file = {json.dumps(_secret_file(env, dc, 'arangodb.jwt', arango['jwt_secret']))}"]
        # Every DC signs what it sends; receivers trust only the sender's public key.
        private, public = generate_keypair(env.state_dir / dc / "keys", dc)
        lines += [f"signing_key = {json.dumps(str(private.relative_to(env.state_dir)))}",
                  f"verify_key = {json.dumps(str(public.relative_to(env.state_dir)))}", ""]
    for src, dst in env.spec.flows:
        lines += ["[[replication]]", f"from = {json.dumps(src)}", f"to = {json.dumps(dst)}", ""]
    env.topology_path.write_text("\n".join(lines), encoding="utf-8")


def _secret_file(env: DevEnvironment, dc: str, name: str, secret: str) -> str:
    """Write a secret readable only by us; the topology names it relative to its own folder."""
    path = env.state_dir / dc / name
    write_private(path, (secret + "\n").encode())
    return str(path.relative_to(env.state_dir))


def _recorded_arangodb_dcs(state_dir: Path) -> list[str]:
    env_file = state_dir / ENV_FILE
    if env_file.exists():
        return [dc for dc, spec in json.loads(env_file.read_text())["dcs"].items() if spec.get("arangodb")]
    # A crashed `up` leaves no environment file: ask the stand-in about every DC folder.
    return [d.name for d in state_dir.iterdir() if d.is_dir()]


def _standin_launcher() -> tuple[Callable[..., dict], Callable[..., None]] | None:
    try:
        from dc2dc.devcluster.standin.launcher import start_standin, stop_standin
    except ModuleNotFoundError as exc:
        if exc.name is not None and exc.name.startswith("dc2dc.devcluster.standin"):
            return None
        raise
    return start_standin, stop_standin


def _retry_on_port_clash(start: Callable[[], None], attempts: int = 3) -> None:
    # Ports are picked free, then bound by a JVM seconds later; with other test runs on the
    # machine, another process can take one in between. A fresh pick is the cure.
    for attempt in range(1, attempts + 1):
        try:
            start()
            return
        except processes.ProcessFailed as exc:
            if "Address already in use" not in str(exc) or attempt == attempts:
                raise
            print(f"dc2dc: port taken meanwhile, retrying with fresh ports ({exc.args[0].splitlines()[0]})",
                  file=sys.stderr)


def _parallel(fn: Callable[[T], R], items: Iterable[T]) -> list[R]:
    """Run ``fn`` over ``items`` in threads; wait for all, then raise the first error."""
    items = list(items)
    if not items:
        return []
    with ThreadPoolExecutor(max_workers=len(items)) as pool:
        futures = [pool.submit(fn, item) for item in items]
    for future in futures:
        error = future.exception()
        if error is not None:
            raise error
    return [f.result() for f in futures]
