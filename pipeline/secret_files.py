"""Secret files (passwords, JWT secrets, private keys): written owner-only, refused when loose.

A secret another local user can read is as good as published, and a secret file someone else may
write lets them choose our credentials. So a file is accepted only with mode 0600 or 0640 at most
(the owner's group may read it, as a service group often needs to); anything looser is refused with
the file's name and mode, never silently used.

A secret read from a file is a :class:`Secret`: a ``str`` everywhere it is used, but its ``repr``
hides the value, so a settings dataclass, a traceback's locals or a log of ``%r`` never prints it.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from dc2dc.topics.errors import ConfigError

# Group write or execute, and every bit for others: what 0640 does not allow.
_LOOSE = stat.S_IWGRP | stat.S_IXGRP | stat.S_IRWXO


class SecretFileError(ConfigError):
    """A secret file is missing, unreadable or readable/writable by users it must not be."""


class Secret(str):
    """A secret value: compares, encodes and formats as its ``str``; only ``repr`` hides it."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "'***'"


def check_private(path: str | Path) -> None:
    """Refuse ``path`` unless only its owner (and at most its group, read-only) may access it."""
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
    except OSError as e:
        raise SecretFileError(f"cannot read secret file {path}: {e.strerror}") from None
    if mode & _LOOSE:
        raise SecretFileError(f"secret file {path} has mode {mode:04o}, which lets other users read or "
                              f"change it; allow at most 0640 (chmod 600 {path})")


def read_secret(path: str | Path) -> Secret:
    """The secret in ``path`` (surrounding whitespace stripped), after checking its permissions."""
    check_private(path)
    return Secret(Path(path).read_text(encoding="utf-8").strip())


def write_private(path: Path, data: bytes) -> None:
    """Create ``path`` with mode 0600 from the start (never briefly readable); refuse to overwrite."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise ConfigError(f"{path} exists; refusing to overwrite it") from None
    with os.fdopen(fd, "wb") as f:
        f.write(data)
