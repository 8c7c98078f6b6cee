"""``dc2dc demo``: two DCs on this machine, A replicating to B, while a workload writes to A.

It starts everything (Kafka + MirrorMaker 2 + an ArangoDB stand-in per DC, then a source worker in
A and a destination worker in B), writes a mixed workload to A, shows B catching up shard by shard,
compares both sides and tears everything down, whatever happened. Exit code 0 means "in sync".
"""

from __future__ import annotations

import asyncio
import random
import tempfile
import time
from pathlib import Path
from typing import Any

import click
from arango import ArangoClient
from arango.database import StandardDatabase
from rich.console import Console
from rich.live import Live
from rich.progress import Progress

from dc2dc.devcluster.up import EnvSpec, start_environment
from dc2dc.devcluster.workers import start_worker, stop_worker
from dc2dc.pipeline.ops.check import CheckReport
from dc2dc.pipeline.ops.cli import flow_check, flow_lags, lag_table, print_report
from dc2dc.pipeline.topology import Topology

BATCH = 500


class Workload:
    """The writes of the demo, all through python-arango as an application would do them."""

    def __init__(self, coordinator: str, password: str, docs: int, progress: Progress) -> None:
        self.client = ArangoClient(hosts=coordinator)
        self.password = password
        self.docs = docs
        self.progress = progress
        self.rng = random.Random(7)

    def db(self, name: str) -> StandardDatabase:
        return self.client.db(name, username="root", password=self.password)

    def run(self) -> None:
        sys_db = self.db("_system")
        sys_db.create_database("shop")
        shop = self.db("shop")
        orders = shop.create_collection("orders", shard_count=3)
        customers = shop.create_collection("customers", shard_count=2)
        shop.create_collection("bought", edge=True, shard_count=2)
        orders.add_index({"type": "persistent", "fields": ["customer"], "name": "by_customer"})

        task = self.progress.add_task("writing to A", total=self.docs)
        customers.import_bulk([{"_key": f"c{i}", "name": f"customer {i}"} for i in range(100)])
        for start in range(0, self.docs, BATCH):
            n = min(BATCH, self.docs - start)
            orders.import_bulk([{"_key": f"o{start + i}", "customer": f"c{(start + i) % 100}",
                                 "total": self.rng.randint(1, 500)} for i in range(n)])
            self.progress.advance(task, n)
            if start == self.docs // 2:
                self.mid_stream()

        self.progress.update(task, description="updates, removes, a transaction")
        for i in range(0, self.docs, 10):
            orders.update({"_key": f"o{i}", "status": "shipped"})
        orders.delete_many([{"_key": f"o{i}"} for i in range(5, self.docs, 50)])
        txn = shop.begin_transaction(write=["orders", "customers", "bought"])
        txn.collection("customers").insert({"_key": "vip", "name": "a very important customer"})
        txn.collection("orders").insert({"_key": "vip-order", "customer": "vip", "total": 10_000})
        txn.collection("bought").insert({"_from": "customers/vip", "_to": "orders/vip-order"})
        txn.commit_transaction()
        self.progress.update(task, description="workload written to A")

    def mid_stream(self) -> None:
        """Structure that appears while data flows: B must pick it up with no configuration."""
        self.db("_system").create_database("analytics")
        events = self.db("analytics").create_collection("events", shard_count=2)
        events.import_bulk([{"kind": "click", "n": i} for i in range(1000)])
        sys_db = self.db("_system")
        sys_db.create_user("reporter", "secret-in-A")
        sys_db.update_permission("reporter", "ro", "analytics")


def follow(topology: Topology, console: Console, timeout_s: float) -> CheckReport:
    """Show the lag table until every shard is applied and both sides compare equal."""
    deadline = time.monotonic() + timeout_s
    report: CheckReport | None = None
    with Live(console=console, refresh_per_second=2) as live:
        while time.monotonic() < deadline:
            current = asyncio.run(flow_lags(topology.dcs["A"], topology.dcs["B"]))
            live.update(lag_table(current, "B catching up with A (per source shard)"))
            if current and all(x.in_sync for x in current):
                report = asyncio.run(flow_check(topology.dcs["A"], topology.dcs["B"]))
                if report.in_sync:
                    return report
            time.sleep(1)
    return report or asyncio.run(flow_check(topology.dcs["A"], topology.dcs["B"]))


@click.command()
@click.option("--docs", default=20_000, show_default=True, help="documents written to A")
@click.option("--state-dir", type=click.Path(file_okay=False, path_type=Path),
              help="where the demo keeps its state (default: a temporary folder)")
@click.option("--timeout", "timeout_s", default=300.0, show_default=True, help="seconds to wait for B")
def demo(docs: int, state_dir: Path | None, timeout_s: float) -> None:
    """Replicate a live workload from DC A to DC B on this machine, then compare both sides."""
    console = Console()
    state = state_dir or Path(tempfile.mkdtemp(prefix="dc2dc-demo-"))
    console.rule("dc2dc demo")
    console.print(f"starting DC A and DC B (Kafka + MirrorMaker 2 + ArangoDB stand-in) in {state}")
    env = start_environment(EnvSpec(state_dir=state))
    workers: list[Any] = []
    try:
        topology = env.topology()
        unsigned = not topology.dcs["A"].verify_key
        workers.append(start_worker(state, env.topology_path, "source", "A"))
        workers.append(start_worker(state, env.topology_path, "destination", "B", allow_unsigned=unsigned))
        console.print("replication A -> B is running " +
                      ("(messages signed with Ed25519)" if not unsigned else "[yellow](unsigned)[/]"))
        with Progress(console=console) as progress:
            Workload(env.arangodb["A"]["coordinator"], env.arangodb["A"]["password"], docs, progress).run()
        report = follow(topology, console, timeout_s)
        print_report(report, console)
        for worker in workers:
            stats = (worker.status() or {}).get("DestinationWorker", {}).get("stats")
            if stats:
                console.print(f"destination applied {stats['applied']} messages, "
                              f"dropped {stats['duplicates']} re-deliveries")
    finally:
        console.print("stopping everything")
        for worker in workers:
            stop_worker(worker)
        env.stop()
    if report.in_sync:
        console.print("[bold green]verdict: B is in sync with A for every shard[/]")
    else:
        console.print("[bold red]verdict: B is NOT in sync with A[/]")
        raise SystemExit(1)
