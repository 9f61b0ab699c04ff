"""The sandbox's data folder is its owner's alone: it holds a database with every token.

Folders are 0700 and the files that hold tokens 0600, whatever the umask; a folder that is
not the sandbox's (another user's, or holding other files) is refused rather than tightened.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from mlflow_gitlab.errors import ConfigError

DATABASE = "sandbox.db"


def private_folder(folder: Path, *, data_root: bool = True) -> None:
    """Create `folder` 0700, or tighten an existing one of ours to 0700.

    Args:
        folder: the data folder, or (`data_root` False) one of the sandbox's inside it.
        data_root: an existing folder must hold the sandbox's database, or nothing.

    Raises:
        ConfigError: it is not a folder, is another user's, or holds other files.
    """
    try:
        info = folder.lstat()
    except FileNotFoundError:
        folder.mkdir(mode=0o700, parents=True)
        os.chmod(folder, 0o700)
        return
    if not stat.S_ISDIR(info.st_mode):
        raise ConfigError(f"data directory {folder} is not a folder",
                          hint="give --data a new or empty folder, or one the sandbox made")
    if hasattr(os, "geteuid") and info.st_uid != os.geteuid():
        raise ConfigError(f"data directory {folder} belongs to another user",
                          hint="give --data a folder of your own")
    if data_root and not (folder / DATABASE).exists() and any(folder.iterdir()):
        raise ConfigError(f"data directory {folder} holds other files and no {DATABASE}",
                          hint="give --data a new or empty folder, or one the sandbox made")
    if stat.S_IMODE(info.st_mode) != 0o700:
        os.chmod(folder, 0o700)


def private_database(database: Path) -> None:
    """Create `database` 0600 if missing, and tighten it and SQLite's -wal and -shm files
    (which SQLite creates with the database's mode) to 0600."""
    os.close(os.open(database, os.O_RDWR | os.O_CREAT, 0o600))
    for path in (database, *(database.with_name(database.name + s) for s in ("-wal", "-shm"))):
        if path.exists():
            os.chmod(path, 0o600)


@contextmanager
def private_file(path: Path) -> Iterator[BinaryIO]:
    """`path` opened for writing (created or truncated), readable by its owner only."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        os.chmod(path, 0o600)  # it may have existed with another mode
        yield fh
