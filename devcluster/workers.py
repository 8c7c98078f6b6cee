"""dc2dc worker processes of a dev environment: started as `dc2dc worker` would be in production.

Each runs in its own process group with a pid file in the state folder, so `dc2dc dev down`
stops workers that a crashed demo or test left behind, like every other dev process.
"""

from __future__ import annotations

import signal
import ssl
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from dc2dc.devcluster import processes

READY_TIMEOUT_S = 90.0


@dataclass
class Worker:
    proc: processes.Managed
    web_port: int
    monitoring_token: str | None = field(default=None, repr=False)
    web_ca: Path | None = None     # set when the worker serves HTTPS: the CA its certificate is from

    def status(self) -> dict | None:
        return worker_status(self.web_port, self.monitoring_token, self.web_ca)


def start_worker(state_dir: Path, topology_path: Path, role: str, dc: str, *, allow_unsigned: bool = False,
                 web_bind: str | None = None, monitoring_token_file: Path | None = None,
                 certificates: tuple[Path, ...] = (), web_tls: tuple[Path, Path] | None = None,
                 web_ca: Path | None = None) -> Worker:
    """Start a worker and return once its components run (its /status answers)."""
    name = f"worker-{role}-{dc}"
    port = processes.free_port()
    cmd = [sys.executable, "-m", "dc2dc.pipeline.ops.cli", "worker", "--role", role, "--dc", dc,
           "--topology", str(topology_path), "--web-port", str(port), "--loglevel", "info"]
    if allow_unsigned:
        cmd.append("--allow-unsigned")
    if web_bind is not None:
        cmd += ["--web-bind", web_bind]
    for certificate in certificates:
        cmd += ["--certificate", str(certificate)]
    if web_tls is not None:
        cmd += ["--web-tls-cert", str(web_tls[0]), "--web-tls-key", str(web_tls[1])]
    token = None
    if monitoring_token_file is not None:
        cmd += ["--monitoring-token-file", str(monitoring_token_file)]
        token = monitoring_token_file.read_text(encoding="utf-8").strip()
    # The pid file's folder must appear in the command line (processes trusts only such pids):
    # the topology lives in the state folder.
    proc = processes.spawn(name, cmd, pid_file=state_dir / f"{name}.pid", log_file=state_dir / f"{name}.log",
                           cwd=state_dir)
    processes.wait_until(proc, lambda: worker_status(port, token, web_ca) is not None, timeout=READY_TIMEOUT_S,
                         what="a running worker")
    return Worker(proc, port, token, web_ca)


def worker_status(port: int, monitoring_token: str | None = None, web_ca: Path | None = None) -> dict | None:
    """The worker's /status (over HTTPS trusting ``web_ca`` when given), or None while it is still starting."""
    headers = {"Authorization": f"Bearer {monitoring_token}"} if monitoring_token else {}
    url = f"{'https' if web_ca else 'http'}://127.0.0.1:{port}/status"
    context = ssl.create_default_context(cafile=web_ca) if web_ca else None
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=2, context=context) as resp:
            body = orjson.loads(resp.read())
    except (urllib.error.URLError, OSError, ValueError):
        return None
    return None if body.get("starting") or not body else body


def stop_worker(worker: Worker) -> None:
    """A clean stop: SIGTERM lets Faust stop the components (producers flush, positions stay)."""
    processes.stop(worker.proc, timeout=30, sig=signal.SIGTERM)


def kill_worker(worker: Worker) -> None:
    """``kill -9``: what a crash does."""
    processes.kill_hard(worker.proc)
    worker.proc.pid_file.unlink(missing_ok=True)
