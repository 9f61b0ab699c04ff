"""Where a helper keeps its metric journal, and the record that lets `sync` find it after a kill.

Inside `mlflow-gitlab run` the journal is a private folder (0700) in the spool folder,
`<spool>/journal-<random>/`, next to what the relay spools, so a job keeping the spool as
an artifact keeps it too. It holds the segments and `helper.json`, which names the run the
helper made and the process. The helper holds a lock on that file while it lives, so a
`sync` running meanwhile leaves the folder alone; a killed helper's lock is gone with it.
"""

from __future__ import annotations

import json
import os
import socket
import tempfile
import time
from pathlib import Path
from typing import Any

try:
    import fcntl
except ImportError:  # not POSIX: the record's process id and host are checked instead
    fcntl = None  # type: ignore[assignment]

PREFIX = "journal-"
STATE = "helper.json"


def new_journal(spool: Path, run_id: str | None) -> tuple[Path, int, list[Path]]:
    """Create a journal folder under `spool` with its record, locked for this process.

    Returns:
        The folder (absolute), the record's open file (keep it open: it holds the lock), and
        the folders created on the way to it (for `remove_journal`).

    Raises:
        OSError: the folder or the record cannot be written.
    """
    spool = Path(spool).absolute()
    created = [p for p in (spool, *spool.parents) if not p.exists()]
    spool.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix=PREFIX, dir=spool))  # 0700
    fd = os.open(folder / STATE, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    if fcntl is not None:
        fcntl.flock(fd, fcntl.LOCK_EX)
    record = {"run_id": run_id, "pid": os.getpid(), "host": socket.gethostname(),
              "started": int(time.time() * 1000)}
    os.write(fd, (json.dumps(record) + "\n").encode())
    return folder, fd, created


def remove_journal(folder: Path, fd: int | None, created: list[Path]) -> None:
    """Delete a journal folder (its points are all sent), then the spool folder if it is left
    empty (concurrent helpers share it: the last one out removes it, whoever made it), then
    the empty folders made on the way to it."""
    import shutil

    shutil.rmtree(folder, ignore_errors=True)
    if fd is not None:
        os.close(fd)
    spool = Path(folder).parent
    for path in sorted({spool, *created}, key=lambda p: len(p.parts), reverse=True):
        try:
            path.rmdir()
        except OSError:
            break  # not empty (a spool file, another helper's journal): keep it


def helper_journals(spool: Path) -> list[Path]:
    """The journal folders helpers left in `spool`, oldest name first."""
    if not Path(spool).is_dir():
        return []
    return sorted(p for p in Path(spool).glob(PREFIX + "*") if p.is_dir())


def read_record(folder: Path) -> dict[str, Any]:
    """The helper's record of a journal folder.

    Raises:
        ValueError: there is none, or it is not one.
        OSError: it cannot be read.
    """
    path = folder / STATE
    if not path.is_file():
        raise ValueError(f"no {STATE} in it: not a journal folder of mlflow-gitlab run")
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except ValueError:
        raise ValueError(f"its {STATE} is not JSON") from None
    if not isinstance(record, dict) or not isinstance(record.get("run_id"), str):
        raise ValueError(f"its {STATE} names no run")
    return record


def in_use(folder: Path) -> bool:
    """Whether the helper that made `folder` still runs (it holds the record's lock)."""
    path = folder / STATE
    if fcntl is None:
        record = read_record(folder)
        return record.get("host") == socket.gethostname() and _alive(int(record["pid"]))
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
