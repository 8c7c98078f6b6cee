"""Keeps a stand-in's model (data, structure, users, every server's WAL) on disk.

A snapshot of the whole model is written at most every `interval` seconds after a change, and at
shutdown: write a temporary file, fsync it, rename it over the previous one. A crash loses at
most the writes since the last snapshot (about one interval), comparable to ArangoDB with
waitForSync=false and a delayed WAL sync.

While running, snapshots are taken in a forked child (like Redis' BGSAVE): the child sees a
copy-on-write image of the model frozen at fork time and pickles it, so the event loop is never
blocked by serialising a large model. The file is a pickle: private state of this process,
never exchanged.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import pickle
from pathlib import Path

import orjson

from .model import Cluster

log = logging.getLogger("dc2dc.standin.persistence")
_MODEL = "model.pickle"
_PORTS = "ports.json"


class Store:
    def __init__(self, directory: Path, interval: float = 0.5) -> None:
        self.directory = directory
        self.interval = interval
        self.cluster: Cluster | None = None
        self.ports: dict[str, int] = {}
        self._dirty = False
        self._task: asyncio.Task | None = None
        self._child: int | None = None
        directory.mkdir(parents=True, exist_ok=True)

    def load(self) -> Cluster | None:
        path = self.directory / _MODEL
        if (self.directory / _PORTS).exists():
            self.ports = orjson.loads((self.directory / _PORTS).read_bytes())
        if not path.exists():
            return None
        cluster = pickle.loads(path.read_bytes())
        assert isinstance(cluster, Cluster)
        return cluster

    def attach(self, cluster: Cluster) -> None:
        self.cluster = cluster
        (self.directory / _PORTS).write_bytes(orjson.dumps(self.ports))
        self._dirty = True

    def mark_dirty(self) -> None:
        self._dirty = True

    async def start(self) -> None:
        self.write_now()
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            if self._dirty:
                self._dirty = False
                if not await self._write_in_child():
                    self._dirty = True

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._child is not None:  # a snapshot still being written must not race the last one
            with contextlib.suppress(ChildProcessError):
                os.waitpid(self._child, 0)
            self._child = None
        self.write_now()

    def write_now(self) -> None:
        """Snapshot in this process (start and shutdown, when blocking does not matter)."""
        if self.cluster is not None:
            self._write(pickle.dumps(self.cluster, protocol=pickle.HIGHEST_PROTOCOL))

    async def _write_in_child(self) -> bool:
        pid = os.fork()
        if pid == 0:  # child: serialise the frozen image, write it, leave without any cleanup
            code = 1
            try:
                self.write_now()
                code = 0
            finally:
                os._exit(code)
        self._child = pid
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            await asyncio.sleep(0.005)
        self._child = None
        if status != 0:
            log.error("snapshot child %d failed with status %d; retrying at the next interval", pid, status)
        return status == 0

    def _write(self, data: bytes) -> None:
        tmp = self.directory / f"{_MODEL}.{os.getpid()}.tmp"
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        tmp.replace(self.directory / _MODEL)
