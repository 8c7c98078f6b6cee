"""docker-compose.yml, checked statically: the CI machines have no Docker engine.

docker-compose.yml, deploy/topology.docker.toml and deploy/mm2.properties must describe the same
two-DC setup: the Kafka bootstrap and ArangoDB endpoint of every DC name a compose service that
really listens there, each DC is one complete ArangoDB cluster with its own agency and JWT
secret, MirrorMaker mirrors exactly the topics of dc2dc.topics.names between the brokers of the
topology, and the workers run the documented command against files that exist.
``compose_problems`` lists every disagreement; the mutation tests at the end show that each
check notices the mistake it is there for.
"""
from __future__ import annotations

import copy
import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable
from urllib.parse import urlsplit

import pytest
import yaml

from dc2dc.pipeline.topology import Topology
from dc2dc.topics.chunking import MAX_MESSAGE_BYTES
from dc2dc.topics.names import feedback_topics_regex, forward_topics_regex

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = ROOT / "docker-compose.yml"
TOPOLOGY = ROOT / "deploy" / "topology.docker.toml"
MM2 = ROOT / "deploy" / "mm2.properties"
IDENTITY_POLICY = "org.apache.kafka.connect.mirror.IdentityReplicationPolicy"
# Environment variables of the apache/kafka image that are JVM settings, not broker properties.
_KAFKA_NON_PROPERTIES = {"KAFKA_HEAP_OPTS", "KAFKA_OPTS", "KAFKA_JVM_PERFORMANCE_OPTS",
                         "KAFKA_LOG4J_OPTS", "KAFKA_JMX_OPTS", "KAFKA_GC_LOG_OPTS"}


@dataclass
class Setup:
    compose: dict
    topology: Topology
    mm2: dict[str, str]


def load_setup() -> Setup:
    return Setup(yaml.safe_load(COMPOSE.read_text(encoding="utf-8")), Topology.load(TOPOLOGY),
                 parse_properties(MM2.read_text(encoding="utf-8")))


# ------------------------------------------------------------------ file formats

def parse_properties(text: str) -> dict[str, str]:
    """java.util.Properties.load: what MirrorMaker really reads, escapes included."""
    logical: list[str] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.lstrip()
        if not pending and (not line or line[0] in "#!"):
            continue
        trailing = len(line) - len(line.rstrip("\\"))
        if trailing % 2:  # an odd number of backslashes continues the line
            pending += line[:-1]
            continue
        logical.append(pending + line)
        pending = ""
    if pending:
        logical.append(pending)
    props = {}
    for line in logical:
        i, key = 0, []
        while i < len(line) and line[i] not in "=: \t\f":
            if line[i] == "\\" and i + 1 < len(line):
                key.append(line[i:i + 2])
                i += 2
            else:
                key.append(line[i])
                i += 1
        rest = line[i:].lstrip(" \t\f")
        if rest[:1] in ("=", ":"):
            rest = rest[1:].lstrip(" \t\f")
        props[_unescape_java("".join(key))] = _unescape_java(rest)
    return props


def _unescape_java(text: str) -> str:
    def one(m: re.Match) -> str:
        c = m.group(1)
        if c.startswith("u"):
            return chr(int(c[1:], 16))
        return {"t": "\t", "n": "\n", "r": "\r", "f": "\f"}.get(c, c)
    return re.sub(r"\\(u[0-9a-fA-F]{4}|.)", one, text)


def command(service: dict) -> list[str]:
    cmd = service.get("command", [])
    return shlex.split(cmd) if isinstance(cmd, str) else [str(c) for c in cmd]


def environment(service: dict) -> dict[str, str]:
    env = service.get("environment", {})
    if isinstance(env, list):
        return dict(item.split("=", 1) for item in env)
    return {k: "" if v is None else str(v) for k, v in env.items()}


def kafka_properties(service: dict) -> dict[str, str]:
    """Broker properties from the apache/kafka image's KAFKA_* variables (. _ - -> _ __ ___)."""
    props = {}
    for name, value in environment(service).items():
        if name.startswith("KAFKA_") and name not in _KAFKA_NON_PROPERTIES:
            key = name[6:].replace("___", "-").replace("__", "\0").replace("_", ".").replace("\0", "_")
            props[key.lower()] = value
    return props


def arangod_options(service: dict) -> dict[str, list[str]]:
    opts: dict[str, list[str]] = {}
    args = command(service)
    i = 0
    while i < len(args):
        arg = args[i]
        if arg.startswith("--"):
            if "=" in arg:
                name, value = arg[2:].split("=", 1)
            else:
                name, value = arg[2:], args[i + 1] if i + 1 < len(args) else ""
                i += 1
            opts.setdefault(name, []).append(value)
        i += 1
    return opts


def host_ports(service: dict) -> list[tuple[str, int]]:
    out = []
    for spec in service.get("ports", []):
        if isinstance(spec, dict):
            out.append((spec.get("host_ip", "0.0.0.0"), int(spec["published"])))
            continue
        parts = str(spec).split("/")[0].split(":")
        if len(parts) == 3:
            out.append((parts[0], int(parts[1])))
        elif len(parts) == 2:
            out.append(("0.0.0.0", int(parts[0])))
    return out


def mounts(service: dict) -> list[tuple[str, str]]:
    """(source, target) of every volume; a bind mount's source starts with '.' or '/'."""
    out = []
    for spec in service.get("volumes", []):
        if isinstance(spec, dict):
            out.append((str(spec["source"]), str(spec["target"])))
        else:
            source, target = str(spec).split(":")[:2]
            out.append((source, target))
    return out


def bind_source(service: dict, target: str) -> Path | None:
    """The repository file mounted at (or holding) ``target`` in the container, if any."""
    for source, mounted in mounts(service):
        if source.startswith((".", "/")) and (target == mounted or target.startswith(mounted + "/")):
            return (COMPOSE.parent / source / Path(target).relative_to(mounted)).resolve()
    return None


def _host_port(endpoint: str) -> tuple[str, int]:
    parts = urlsplit(endpoint if "//" in endpoint else "//" + endpoint)
    return parts.hostname or "", parts.port or 0


# ------------------------------------------------------------------ what services are

def services(setup: Setup) -> dict[str, dict]:
    return setup.compose.get("services") or {}


def arangod_services(setup: Setup) -> dict[str, dict]:
    return {n: s for n, s in services(setup).items()
            if str(s.get("image", "")).startswith("arangodb:") and "server.endpoint" in arangod_options(s)}


def kafka_brokers(setup: Setup) -> dict[str, dict]:
    return {n: s for n, s in services(setup).items()
            if str(s.get("image", "")).startswith("apache/kafka:") and "process.roles" in kafka_properties(s)}


def mm2_services(setup: Setup) -> dict[str, dict]:
    return {n: s for n, s in services(setup).items()
            if command(s)[:1] and command(s)[0].endswith("/connect-mirror-maker.sh")}


def workers(setup: Setup) -> dict[str, dict]:
    return {n: s for n, s in services(setup).items() if command(s)[:2] == ["dc2dc", "worker"]}


def service_for_host(setup: Setup, host: str, among: dict[str, dict]) -> tuple[str, dict] | None:
    for name, svc in among.items():
        if host in (name, svc.get("hostname")):
            return name, svc
    return None


# ------------------------------------------------------------------ checks

def compose_problems(setup: Setup) -> list[str]:
    problems: list[str] = []
    for check in (check_services, check_ports, check_health, check_bind_mounts, check_images,
                  check_kafka, check_arangodb, check_mirrormaker, check_workers):
        problems += check(setup)
    return problems


def check_services(setup: Setup) -> list[str]:
    problems = []
    if not services(setup):
        return ["docker-compose.yml has no services"]
    for name, svc in services(setup).items():
        if "image" not in svc and "build" not in svc:
            problems.append(f"service {name} has neither image nor build")
        if "build" in svc:
            build = svc["build"]
            context = COMPOSE.parent / (build if isinstance(build, str) else build.get("context", "."))
            name_in_context = "Dockerfile" if isinstance(build, str) else build.get("dockerfile", "Dockerfile")
            dockerfile = context / name_in_context
            if not dockerfile.is_file():
                problems.append(f"service {name} builds from {dockerfile}, which does not exist")
                continue
            for line in dockerfile.read_text(encoding="utf-8").splitlines():
                words = line.split()
                if words[:1] == ["COPY"] and not any(w.startswith("--from") for w in words):
                    for source in words[1:-1]:
                        if not source.startswith("--") and not (context / source).exists():
                            problems.append(f"{dockerfile.name} copies {source}, which does not exist")
    return problems


def check_ports(setup: Setup) -> list[str]:
    problems, seen = [], {}
    for name, svc in services(setup).items():
        for ip, port in host_ports(svc):
            clash = [other for (oip, oport), other in seen.items()
                     if oport == port and "0.0.0.0" in (ip, oip) or (oip, oport) == (ip, port)]
            if clash:
                problems.append(f"host port {port} is published by both {clash[0]} and {name}")
            seen[(ip, port)] = name
    return problems


def check_health(setup: Setup) -> list[str]:
    problems = []
    for name, svc in {**arangod_services(setup), **kafka_brokers(setup)}.items():
        test = (svc.get("healthcheck") or {}).get("test")
        if not test or test == ["NONE"] or svc["healthcheck"].get("disable"):
            problems.append(f"service {name} has no healthcheck")
    for name, svc in services(setup).items():
        deps = svc.get("depends_on") or {}
        for dep, spec in (deps.items() if isinstance(deps, dict) else ((d, {}) for d in deps)):
            target = services(setup).get(dep)
            if target is None:
                problems.append(f"service {name} depends on {dep}, which does not exist")
            elif spec.get("condition") == "service_healthy" and not target.get("healthcheck"):
                problems.append(f"service {name} waits for {dep} to be healthy, but it has no healthcheck")
            elif (spec.get("condition") == "service_completed_successfully"
                  and target.get("restart", "no") != "no"):
                problems.append(f"service {name} waits for {dep} to complete, but {dep} restarts")
    return problems


def check_bind_mounts(setup: Setup) -> list[str]:
    problems = []
    for name, svc in services(setup).items():
        for source, target in mounts(svc):
            if source.startswith((".", "/")) and not (COMPOSE.parent / source).exists():
                problems.append(f"service {name} mounts {source} at {target}, but {source} does not exist")
    return problems


def check_images(setup: Setup) -> list[str]:
    problems = []
    pom = (ROOT / "mirrormaker" / "pom.xml").read_text(encoding="utf-8")
    kafka_version = re.search(r"<kafka\.version>([^<]+)</kafka\.version>", pom).group(1)
    for name, svc in services(setup).items():
        image = str(svc.get("image", ""))
        if not image or "build" in svc:
            continue
        repo, _, tag = image.partition(":")
        if not tag or tag == "latest":
            problems.append(f"service {name} uses {image} without a pinned tag")
        if repo == "apache/kafka" and tag != kafka_version:
            problems.append(f"service {name} runs Kafka {tag}, but mirrormaker/pom.xml pins {kafka_version}")
    return problems


def check_kafka(setup: Setup) -> list[str]:
    problems, used = [], {}
    for dc in setup.topology.dcs.values():
        for bootstrap in dc.kafka.split(","):
            host, port = _host_port(bootstrap.strip())
            found = service_for_host(setup, host, kafka_brokers(setup))
            if found is None:
                problems.append(f"DC {dc.id}: kafka {bootstrap} names no Kafka broker service")
                continue
            name, svc = found
            if used.setdefault(name, dc.id) != dc.id:
                problems.append(f"DCs {used[name]} and {dc.id} share the Kafka broker {name}")
            props = kafka_properties(svc)
            advertised = dict(_listener(x) for x in props.get("advertised.listeners", "").split(",") if x)
            listeners = dict(_listener(x) for x in props.get("listeners", "").split(",") if x)
            names = [n for n, (h, p) in advertised.items() if (h, p) == (host, port)]
            if not names:
                problems.append(f"DC {dc.id}: broker {name} does not advertise {bootstrap}")
            elif names[0] not in listeners or listeners[names[0]][1] != port:
                problems.append(f"DC {dc.id}: broker {name} does not listen on port {port} for {names[0]}")
            if int(props.get("message.max.bytes", 1048588)) < MAX_MESSAGE_BYTES:
                problems.append(f"broker {name}: message.max.bytes is below dc2dc's {MAX_MESSAGE_BYTES}")
            if int(props.get("replica.fetch.max.bytes", 1048576)) < int(props.get("message.max.bytes", 0)):
                problems.append(f"broker {name}: replica.fetch.max.bytes is below message.max.bytes")
    return problems


def _listener(spec: str) -> tuple[str, tuple[str, int]]:
    name, _, address = spec.strip().partition("://")
    host, _, port = address.rpartition(":")
    return name, (host, int(port))


def check_arangodb(setup: Setup) -> list[str]:
    problems = []
    servers = arangod_services(setup)
    member_of: dict[str, list[str]] = {name: [] for name in servers}
    secrets: dict[str, str] = {}
    for dc in setup.topology.dcs.values():
        host, port = _host_port(dc.arangodb)
        found = service_for_host(setup, host, servers)
        if found is None:
            problems.append(f"DC {dc.id}: arangodb {dc.arangodb} names no arangod service")
            continue
        coord_name, coord = found
        opts = arangod_options(coord)
        if opts.get("cluster.my-role") != ["COORDINATOR"]:
            problems.append(f"DC {dc.id}: {coord_name} is not a coordinator")
        if _host_port(opts["server.endpoint"][0])[1] != port:
            problems.append(f"DC {dc.id}: {coord_name} listens on {opts['server.endpoint'][0]}, "
                            f"not on port {port} of {dc.arangodb}")
        if opts.get("cluster.my-address") != [f"tcp://{host}:{port}"]:
            problems.append(f"DC {dc.id}: {coord_name} announces {opts.get('cluster.my-address')}")
        if not environment(coord).get("ARANGODB_DEFAULT_ROOT_PASSWORD"):
            problems.append(f"DC {dc.id}: {coord_name} sets no root password")
        agency = set(opts.get("cluster.agency-endpoint", []))
        cluster = [n for n, s in servers.items()
                   if set(arangod_options(s).get("cluster.agency-endpoint", [])) == agency]
        agents = [n for n, s in servers.items()
                  if arangod_options(s).get("agency.my-address", [None])[0] in agency]
        for n in cluster + agents:
            member_of[n].append(dc.id)
        problems += _check_agency(dc.id, agency, agents, servers)
        roles = [arangod_options(servers[n]).get("cluster.my-role", [""])[0] for n in cluster]
        if roles.count("DBSERVER") < 2 or roles.count("COORDINATOR") < 1:
            problems.append(f"DC {dc.id}: cluster has {roles.count('DBSERVER')} DBServers and "
                            f"{roles.count('COORDINATOR')} coordinators (need 2 and 1)")
        for n in cluster + agents:
            keyfile = arangod_options(servers[n]).get("server.jwt-secret-keyfile", [""])[0]
            volume = next((src for src, tgt in mounts(servers[n]) if keyfile.startswith(tgt + "/")), None)
            if volume is None:
                problems.append(f"{n}: no volume holds its JWT secret {keyfile or '(none)'}")
            elif secrets.setdefault(dc.id, volume) != volume:
                problems.append(f"{n} reads its JWT secret from {volume}, the rest of DC {dc.id} "
                                f"from {secrets[dc.id]}")
    if len(set(secrets.values())) != len(secrets):
        problems.append("two DCs share one JWT secret volume")
    for name, dcs in member_of.items():
        if len(dcs) != 1:
            problems.append(f"arangod service {name} belongs to {len(dcs)} DC clusters ({dcs})")
    return problems


def _check_agency(dc: str, agency: set[str], agents: list[str], servers: dict[str, dict]) -> list[str]:
    problems = []
    if len(agents) != len(agency):
        problems.append(f"DC {dc}: agency endpoints {sorted(agency)} match {len(agents)} agent services")
    for n in agents:
        opts = arangod_options(servers[n])
        me = opts["agency.my-address"][0]
        if _host_port(me) != (n, _host_port(opts["server.endpoint"][0])[1]):
            problems.append(f"{n}: agency.my-address {me} is not its own service and port")
        if set(opts.get("agency.endpoint", [])) != agency or opts.get("agency.size") != [str(len(agency))]:
            problems.append(f"{n}: its agency ({opts.get('agency.size')}, {opts.get('agency.endpoint')}) "
                            f"differs from DC {dc}'s {sorted(agency)}")
    return problems


def check_mirrormaker(setup: Setup) -> list[str]:
    problems, mm2, topo = [], setup.mm2, setup.topology
    clusters = [c.strip() for c in mm2.get("clusters", "").split(",") if c.strip()]
    if set(clusters) != set(topo.dcs):
        problems.append(f"mm2.properties clusters {clusters} are not the topology's DCs {sorted(topo.dcs)}")
    for dc in topo.dcs.values():
        if mm2.get(f"{dc.id}.bootstrap.servers") != dc.kafka:
            problems.append(f"mm2.properties: {dc.id}.bootstrap.servers is "
                            f"{mm2.get(f'{dc.id}.bootstrap.servers')!r}, the topology says {dc.kafka!r}")
        if int(mm2.get(f"{dc.id}.producer.max.request.size", 1048576)) < MAX_MESSAGE_BYTES:
            problems.append(f"mm2.properties: {dc.id}.producer.max.request.size is below {MAX_MESSAGE_BYTES}")
        if int(mm2.get(f"{dc.id}.consumer.max.partition.fetch.bytes", 1048576)) < MAX_MESSAGE_BYTES:
            problems.append(f"mm2.properties: {dc.id}.consumer.max.partition.fetch.bytes is below "
                            f"{MAX_MESSAGE_BYTES}")
    if mm2.get("replication.policy.class") != IDENTITY_POLICY:
        problems.append("mm2.properties does not use IdentityReplicationPolicy")
    for key, value in mm2.items():
        if key.endswith("replication.factor") and int(value) > 1:
            problems.append(f"mm2.properties: {key} = {value}, but each DC has one broker")
    expected = {}
    for flow in topo.flows:
        expected[f"{flow.source}->{flow.target}"] = forward_topics_regex(flow.source)
        expected[f"{flow.target}->{flow.source}"] = feedback_topics_regex(flow.source, flow.target)
    enabled = {k[:-len(".enabled")] for k, v in mm2.items()
               if k.endswith(".enabled") and "->" in k and v.strip().lower() == "true"}
    if enabled != set(expected):
        problems.append(f"mm2.properties enables {sorted(enabled)}, the topology needs {sorted(expected)}")
    for pair, regex in expected.items():
        if mm2.get(f"{pair}.topics") != regex:
            problems.append(f"mm2.properties: {pair}.topics is {mm2.get(f'{pair}.topics')!r}, "
                            f"dc2dc.topics.names says {regex!r}")
    problems += _check_mm2_services(setup, clusters, {p.split("->")[1] for p in expected})
    return problems


def _check_mm2_services(setup: Setup, clusters: list[str], receivers: set[str]) -> list[str]:
    problems, running = [], set()
    brokers = {dc.id: service_for_host(setup, _host_port(dc.kafka.split(",")[0])[0], kafka_brokers(setup))
               for dc in setup.topology.dcs.values()}
    for name, svc in mm2_services(setup).items():
        args = command(svc)
        if len(args) != 4 or args[2] != "--clusters":
            problems.append(f"{name}: expected connect-mirror-maker.sh <config> --clusters <DC>, got {args}")
            continue
        if bind_source(svc, args[1]) != MM2.resolve():
            problems.append(f"{name}: {args[1]} is not deploy/mm2.properties")
        if args[3] not in clusters:
            problems.append(f"{name}: --clusters {args[3]} is not a cluster of mm2.properties")
        running.add(args[3])
        for dc, broker in brokers.items():
            if broker and broker[0] not in (svc.get("depends_on") or {}):
                problems.append(f"{name} does not wait for {broker[0]} (Kafka of DC {dc})")
    if running != receivers:
        problems.append(f"MirrorMaker runs in {sorted(running)}, "
                        f"but {sorted(receivers)} receive mirrored topics")
    return problems


def check_workers(setup: Setup) -> list[str]:
    problems, topo, roles = [], setup.topology, set()
    for name, svc in workers(setup).items():
        args = command(svc)
        if len(args) != 8 or args[2:7:2] != ["--role", "--topology", "--dc"]:
            problems.append(f"{name}: expected dc2dc worker --role R --topology P --dc D, got {args}")
            continue
        role, path, dc = args[3], args[5], args[7]
        if bind_source(svc, path) != TOPOLOGY.resolve():
            problems.append(f"{name}: {path} is not deploy/topology.docker.toml")
        if dc not in topo.dcs:
            problems.append(f"{name}: DC {dc} is not in the topology")
            continue
        has_side = {"source": bool(topo.targets_of(dc)), "destination": bool(topo.sources_of(dc))}
        if not has_side.get(role, False):
            problems.append(f"{name}: DC {dc} has no {role} side in the topology")
        roles.add((role, dc))
        env_name = topo.dcs[dc].password_env
        if env_name and not environment(svc).get(env_name):
            problems.append(f"{name}: {env_name} (DC {dc}'s password) is not set")
        if "build" not in svc:
            problems.append(f"{name}: the worker image is not built from this repository")
    for flow in topo.flows:
        for role, dc in (("source", flow.source), ("destination", flow.target)):
            if (role, dc) not in roles:
                problems.append(f"no {role} worker runs for DC {dc}")
    return problems


# ------------------------------------------------------------------ tests

def test_compose_topology_and_mirrormaker_config_agree():
    assert compose_problems(load_setup()) == []


def test_each_dc_has_a_whole_cluster_a_broker_a_mirrormaker_and_a_worker():
    setup = load_setup()
    assert len(arangod_services(setup)) == 2 * (3 + 2 + 1)
    assert sorted(kafka_brokers(setup)) == ["kafka-a", "kafka-b"]
    assert sorted(mm2_services(setup)) == ["mm2-a", "mm2-b"]
    assert sorted(workers(setup)) == ["dc2dc-destination-b", "dc2dc-source-a"]


def test_worker_commands_are_the_documented_ones():
    svc = services(load_setup())
    assert command(svc["dc2dc-source-a"]) == [
        "dc2dc", "worker", "--role", "source", "--topology", "/etc/dc2dc/topology.toml", "--dc", "A"]
    assert command(svc["dc2dc-destination-b"]) == [
        "dc2dc", "worker", "--role", "destination", "--topology", "/etc/dc2dc/topology.toml", "--dc", "B"]


def test_properties_are_read_as_java_reads_them():
    text = "# comment\n! also\nkey = a\\\\.b\\.c\nmulti = one \\\n    two\nsp\\ ace:x\n  empty =\n"
    assert parse_properties(text) == {"key": "a\\.b.c", "multi": "one two", "sp ace": "x", "empty": ""}


def _set(path: str, value: Any) -> Callable[[Setup], None]:
    """A mutation: set compose[path] (parts separated by "|", list indexes allowed); None deletes."""
    def mutate(setup: Setup) -> None:
        *parents, last = path.split("|")
        node: Any = setup.compose
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        if isinstance(node, list):
            node[int(last)] = value
        elif value is None:
            del node[last]
        else:
            node[last] = value
    return mutate


def _mm2(key: str, value: str | None) -> Callable[[Setup], None]:
    def mutate(setup: Setup) -> None:
        if value is None:
            del setup.mm2[key]
        else:
            setup.mm2[key] = value
    return mutate


def _topology(dc: str, **changes: str) -> Callable[[Setup], None]:
    def mutate(setup: Setup) -> None:
        dcs = dict(setup.topology.dcs)
        dcs[dc] = type(dcs[dc])(**{**dcs[dc].__dict__, **changes})
        setup.topology = Topology(dcs=dcs, flows=setup.topology.flows)
    return mutate


@pytest.mark.parametrize("mutate, expected", [
    (_set("services|coordinator-b|ports", ["127.0.0.1:8529:8529"]), "host port 8529 is published by both"),
    (_topology("B", kafka="kafka-b:9093"), "does not advertise kafka-b:9093"),
    (_topology("A", kafka="kafka-b:9092"), "share the Kafka broker kafka-b"),
    (_topology("B", arangodb="http://coordinator-b:8530"), "not on port 8530"),
    (_topology("A", arangodb="http://dbserver-a1:8529"), "dbserver-a1 is not a coordinator"),
    (_set("services|dbserver-b1|command|4", "--cluster.agency-endpoint=tcp://agent-a1:8529"),
     "arangod service dbserver-b1 belongs to 0 DC clusters"),
    (_set("services|agent-a3|command|3", "--agency.size=5"), "agent-a3: its agency"),
    (_set("services|dbserver-a2|volumes", ["jwt-b:/secrets:ro"]),
     "dbserver-a2 reads its JWT secret from jwt-b"),
    (_set("services|kafka-a|healthcheck", None), "service kafka-a has no healthcheck"),
    (_set("services|agent-b2|healthcheck", None), "service agent-b2 has no healthcheck"),
    (_set("services|kafka-b|environment|KAFKA_MESSAGE_MAX_BYTES", "1048576"), "message.max.bytes is below"),
    (_set("services|kafka-a|image", "apache/kafka:3.8.0"), "runs Kafka 3.8.0, but mirrormaker/pom.xml pins"),
    (_set("services|mm2-a|volumes", ["./deploy/nope.properties:/etc/dc2dc/mm2.properties:ro"]),
     "mounts ./deploy/nope.properties at /etc/dc2dc/mm2.properties, but"),
    (_set("services|mm2-b|command|3", "A"), "MirrorMaker runs in ['A'], but ['A', 'B'] receive"),
    (_mm2("B.bootstrap.servers", "kafka-a:9092"), "B.bootstrap.servers is 'kafka-a:9092'"),
    (_mm2("A->B.topics", r"dc2dc.A.(control|probe|shard.[A-Za-z0-9_-]+)"), "A->B.topics is"),
    (_mm2("B->A.enabled", "false"), "enables ['A->B'], the topology needs ['A->B', 'B->A']"),
    (_mm2("replication.policy.class", "org.apache.kafka.connect.mirror.DefaultReplicationPolicy"),
     "does not use IdentityReplicationPolicy"),
    (_set("services|dc2dc-source-a|command|7", "B"), "dc2dc-source-a: DC B has no source side"),
    (_set("services|dc2dc-destination-b|volumes", []),
     "/etc/dc2dc/topology.toml is not deploy/topology.docker.toml"),
    (_set("services|dc2dc-source-a|environment", {}), "DC2DC_A_PASSWORD (DC A's password) is not set"),
    (_set("services|dc2dc-destination-b|depends_on|mm2-c", {"condition": "service_started"}),
     "depends on mm2-c, which does not exist"),
])
def test_each_check_catches_its_mistake(mutate: Callable[[Setup], None], expected: str):
    setup = load_setup()
    setup.compose = copy.deepcopy(setup.compose)
    mutate(setup)
    problems = compose_problems(setup)
    assert any(expected in p for p in problems), problems
