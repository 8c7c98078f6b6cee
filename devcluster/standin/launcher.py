"""Start and stop a stand-in in its own process group (used by `dc2dc dev up` and test fixtures).

State lives under `<state_dir>/<dc_id>/arangodb`: the persisted model, the pid file, the log and
the endpoints file the process writes once every server is listening. Credentials are generated
once per state directory and reused, so a restarted stand-in keeps its password and JWT secret.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson
import requests

from .model import new_secret

START_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0


def _dir(state_dir: Path, dc_id: str) -> Path:
    return Path(state_dir) / dc_id / "arangodb"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _credentials(base: Path) -> dict:
    path = base / "credentials.json"
    if path.exists():
        return orjson.loads(path.read_bytes())
    creds = {"password": new_secret(), "jwt_secret": new_secret()}
    path.write_bytes(orjson.dumps(creds))
    os.chmod(path, 0o600)
    return creds


def start_standin(state_dir: Path, dc_id: str, *, mode: str = "cluster", dbservers: int = 3,
                  arangodb_version: str = "3.12") -> dict:
    """Spawn `python -m dc2dc.devcluster.standin`, wait until every server answers, return its
    endpoints: {"coordinator", "dbservers", "username", "password", "jwt_secret", "pid", "mode",
    "version"}. `arangodb_version` is the release it answers as (see standin/versions.py)."""
    base = _dir(state_dir, dc_id)
    base.mkdir(parents=True, exist_ok=True)
    stop_standin(state_dir, dc_id)
    creds = _credentials(base)
    ready = base / "endpoints.json"
    ready.unlink(missing_ok=True)
    env = {**os.environ, "STANDIN_ROOT_PASSWORD": creds["password"], "STANDIN_JWT_SECRET": creds["jwt_secret"]}
    cmd = [sys.executable, "-m", "dc2dc.devcluster.standin", "--mode", mode, "--dbservers", str(dbservers),
           "--state-dir", str(base / "data"), "--ready-file", str(ready), "--arangodb-version", arangodb_version]
    with open(base / "standin.log", "ab") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env=env, start_new_session=True)
    (base / "pid").write_text(str(proc.pid))
    deadline = time.monotonic() + START_TIMEOUT
    while not ready.exists():
        if proc.poll() is not None:
            raise RuntimeError(f"stand-in {dc_id} exited with {proc.returncode}; see {base / 'standin.log'}")
        if time.monotonic() > deadline:
            stop_standin(state_dir, dc_id)
            raise TimeoutError(f"stand-in {dc_id} did not start within {START_TIMEOUT}s")
        time.sleep(0.05)
    info = orjson.loads(ready.read_bytes())
    auth = (info["username"], info["password"])
    for url in [info["coordinator"], *info["dbservers"]]:
        _wait_answering(url, auth, deadline)
    info["pid"] = proc.pid
    return info


def _wait_answering(url: str, auth: tuple[str, str], deadline: float) -> None:
    while True:
        try:
            if requests.get(f"{url}/_api/version", auth=auth, timeout=2, verify=False).status_code == 200:
                return
        except requests.RequestException:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"{url} does not answer")
        time.sleep(0.05)


def stop_standin(state_dir: Path, dc_id: str) -> None:
    """Stop the stand-in of `dc_id` (SIGTERM, then SIGKILL), including leftovers of a crashed run."""
    base = _dir(state_dir, dc_id)
    pid_file = base / "pid"
    if not pid_file.exists():
        return
    try:
        pid = int(pid_file.read_text().strip())
    except ValueError:
        pid_file.unlink(missing_ok=True)
        return
    if _alive(pid) and _is_standin(pid):
        try:
            os.killpg(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        deadline = time.monotonic() + STOP_TIMEOUT
        while _alive(pid) and time.monotonic() < deadline:
            _reap(pid)
            time.sleep(0.05)
        if _alive(pid):
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            _reap(pid)
    pid_file.unlink(missing_ok=True)
    (base / "endpoints.json").unlink(missing_ok=True)


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def _is_standin(pid: int) -> bool:
    """Guard against a recycled pid: only signal a process that runs the stand-in module."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return b"dc2dc.devcluster.standin" in cmdline
