"""`python -m dc2dc.devcluster.standin`: run one stand-in (cluster or single server) until SIGTERM."""
from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import ssl
from pathlib import Path

import orjson

from .model import Cluster, new_secret
from .persistence import Store
from .server import StandIn
from .ttl import DEFAULT_FREQUENCY, TtlSweeper
from .versions import flavour


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m dc2dc.devcluster.standin",
                                description="ArangoDB wire-compatible stand-in for tests and demos")
    p.add_argument("--mode", choices=("cluster", "single"), default="cluster")
    p.add_argument("--dbservers", type=int, default=3)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0, help="coordinator (or single server) port; 0 = free port")
    p.add_argument("--dbserver-ports", default="", help="comma-separated DBServer ports (default: free ports)")
    # secrets come from the environment by default, so they never show in process listings
    p.add_argument("--password", default=os.environ.get("STANDIN_ROOT_PASSWORD"),
                   help="root password (env STANDIN_ROOT_PASSWORD; default random)")
    p.add_argument("--jwt-secret", default=os.environ.get("STANDIN_JWT_SECRET"),
                   help="JWT secret (env STANDIN_JWT_SECRET; default random)")
    p.add_argument("--state-dir", type=Path, default=None, help="persist data and WAL here (restart resumes)")
    p.add_argument("--ready-file", type=Path, default=None, help="write endpoints as JSON here once serving")
    p.add_argument("--tls-cert", type=Path, default=None)
    p.add_argument("--tls-key", type=Path, default=None)
    p.add_argument("--wal-retain-entries", type=int, default=None, help="keep at most N WAL entries per server")
    p.add_argument("--wal-retain-seconds", type=float, default=None, help="drop WAL entries older than S seconds")
    p.add_argument("--ttl-frequency", type=float, default=DEFAULT_FREQUENCY,
                   help="seconds between TTL index sweeps (ArangoDB's --ttl.frequency)")
    p.add_argument("--arangodb-version", default="3.12",
                   help="answer as this release: 3.11 or 3.12 (their wire differences), or a version "
                        "string to report, such as 4.0.0")
    p.add_argument("--log-level", default="WARNING")
    return p.parse_args(argv)


async def run(args: argparse.Namespace) -> None:
    ssl_context = None
    if args.tls_cert:
        ssl_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ssl_context.load_cert_chain(args.tls_cert, args.tls_key)
    store = None
    cluster = None
    if args.state_dir is not None:
        store = Store(args.state_dir)
        cluster = store.load()
    if cluster is None:
        cluster = Cluster(args.mode, args.dbservers, args.password or new_secret(), args.jwt_secret or new_secret())
    else:
        cluster.root_password = args.password or cluster.root_password
        cluster.users["root"].password = cluster.root_password
        cluster.jwt_secret = args.jwt_secret or cluster.jwt_secret
    cluster.flavour = flavour(args.arangodb_version)
    for server in cluster.dbservers:
        assert server.wal is not None
        server.wal.document_ticks = cluster.flavour.document_ticks
    if args.wal_retain_entries is not None or args.wal_retain_seconds is not None:
        for server in cluster.dbservers:
            assert server.wal is not None
            server.wal.set_retention(args.wal_retain_entries, args.wal_retain_seconds)
    standin = StandIn(cluster, args.host, ssl_context, on_change=store.mark_dirty if store else None)
    ports: dict[str, int] = {cluster.coordinator.id: args.port}
    if store is not None:
        ports.update(store.ports)
    if args.dbserver_ports:
        for server, port in zip(cluster.dbservers, args.dbserver_ports.split(",")):
            ports[server.id] = int(port)
    await standin.start(ports)
    if store is not None:
        store.ports = dict(standin.ports)
        store.attach(cluster)
        await store.start()
    info = {"coordinator": standin.url(cluster.coordinator),
            "dbservers": [standin.url(s) for s in cluster.dbservers] if cluster.is_cluster else [],
            "username": "root", "password": cluster.root_password, "jwt_secret": cluster.jwt_secret,
            "pid": os.getpid(), "mode": cluster.mode, "version": cluster.flavour.version}
    if args.ready_file is not None:
        tmp = args.ready_file.with_suffix(".tmp")
        tmp.write_bytes(orjson.dumps(info))
        os.chmod(tmp, 0o600)
        tmp.replace(args.ready_file)
    sweeper = TtlSweeper(cluster, args.ttl_frequency, on_change=store.mark_dirty if store else None)
    sweeper.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await sweeper.stop()
    if store is not None:
        await store.stop()
    await standin.close()


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
