"""Child processes of the dev cluster: spawn, track by pid file, wait for readiness, stop.

Every process runs in its own session (so its process group id is its pid) and leaves a pid
file next to its state. ``stop`` signals the whole group, so nothing a JVM forks survives, and
works from the pid file alone: ``dc2dc dev down`` cleans up after a run that crashed. A pid file
is trusted only while the process's command line still names the pid file's folder, so a
recycled pid never gets a signal meant for a dead dev process.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

PID_SUFFIX = ".pid"


class ProcessFailed(RuntimeError):
    """A dev process exited or did not become ready; the message ends with its log's tail."""


@dataclass
class Managed:
    """A process this module started (``popen`` set) or found through its pid file."""

    name: str
    pid: int
    pid_file: Path
    log_file: Path
    popen: subprocess.Popen | None = field(default=None, repr=False)
    # Further logs worth showing when it fails (a JVM's log4j file next to its stdout).
    extra_logs: tuple[Path, ...] = ()

    def alive(self) -> bool:
        if self.popen is not None:
            return self.popen.poll() is None
        return _owned_and_running(self.pid, self.pid_file)

    def log_tail(self, lines: int = 30) -> str:
        tails = []
        for path in (self.log_file, *self.extra_logs):
            try:
                text = path.read_text(encoding="utf-8", errors="replace")
            except FileNotFoundError:
                continue
            if text.strip():
                tails.append(f"--- {path}\n" + "\n".join(text.splitlines()[-lines:]))
        return "\n".join(tails) or "(no log output)"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def spawn(name: str, cmd: list[str], *, pid_file: Path, log_file: Path, cwd: Path,
          extra_logs: tuple[Path, ...] = ()) -> Managed:
    """Start ``cmd`` in a new session with output appended to ``log_file``; record its pid."""
    if pid_file.exists():
        found = Managed(name, int(pid_file.read_text().split()[0]), pid_file, log_file)
        if found.alive():
            raise ProcessFailed(f"{name} is already running (pid {found.pid}, {pid_file})")
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with open(log_file, "ab") as log:
        popen = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                 cwd=cwd, start_new_session=True)
    pid_file.write_text(f"{popen.pid}\n")
    return Managed(name, popen.pid, pid_file, log_file, popen, extra_logs)


def run_to_completion(name: str, cmd: list[str], *, log_file: Path, cwd: Path, timeout: float) -> None:
    """Run a short tool (e.g. the storage formatter); fail with its output if it fails."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with open(log_file, "ab") as log:
        result = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                cwd=cwd, timeout=timeout, check=False)
    if result.returncode != 0:
        tail = "\n".join(log_file.read_text(errors="replace").splitlines()[-30:])
        raise ProcessFailed(f"{name} failed with exit code {result.returncode}:\n{tail}")


def wait_until(proc: Managed, ready: Callable[[], bool], *, timeout: float, what: str,
               interval: float = 0.25) -> None:
    """Poll ``ready`` until it is true; fail early, with the log's tail, if ``proc`` exits."""
    deadline = time.monotonic() + timeout
    while True:
        if not proc.alive():
            raise ProcessFailed(f"{proc.name} exited before {what}:\n{proc.log_tail()}")
        if ready():
            return
        if time.monotonic() > deadline:
            raise ProcessFailed(f"{proc.name}: no {what} after {timeout:.0f} s:\n{proc.log_tail()}")
        time.sleep(interval)


def stop(proc: Managed, *, timeout: float = 20.0, sig: int = signal.SIGTERM) -> None:
    """Signal the process group, wait up to ``timeout``, then SIGKILL it; remove the pid file."""
    if proc.alive():
        _signal_group(proc.pid, sig)
        deadline = time.monotonic() + timeout
        while proc.alive() and time.monotonic() < deadline:
            time.sleep(0.1)
        if proc.alive():
            _signal_group(proc.pid, signal.SIGKILL)
            while proc.alive():
                time.sleep(0.05)
    if proc.popen is not None:
        proc.popen.wait()
    proc.pid_file.unlink(missing_ok=True)


def kill_hard(proc: Managed) -> None:
    """``kill -9`` the whole group at once, as a crash would (the pid file stays)."""
    _signal_group(proc.pid, signal.SIGKILL)
    if proc.popen is not None:
        proc.popen.wait()
    else:
        while proc.alive():
            time.sleep(0.05)


def from_pid_file(pid_file: Path) -> Managed:
    name = pid_file.name.removesuffix(PID_SUFFIX)
    return Managed(name, int(pid_file.read_text().split()[0]), pid_file, pid_file.with_suffix(".log"))


def leftovers(state_dir: Path) -> list[Managed]:
    """Processes recorded under ``state_dir`` whose pid files are still there, running or not."""
    found = []
    for pid_file in sorted(state_dir.glob(f"**/*{PID_SUFFIX}")):
        try:
            found.append(from_pid_file(pid_file))
        except (ValueError, IndexError):
            continue  # not one of ours (e.g. the stand-in keeps its own format)
    return found


def _signal_group(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        pass


def _owned_and_running(pid: int, pid_file: Path) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state != "Z" and str(pid_file.parent).encode() in cmdline
