"""Files the commands write for later jobs (dotenv, reports, matrices): checked up front,
written whole.

A path is checked before any work, without creating anything, so a command refused later
leaves no folder behind; the folder is created when the file is written, atomically.
"""

from __future__ import annotations

import os
from pathlib import Path

from mlflow_gitlab.errors import ConfigError


def check_writable(path: Path, what: str, option: str) -> None:
    """Refuse `path` (the `what`, given by `option`) if it cannot be written; create nothing.

    Raises:
        ConfigError: `path` is a folder, a file is in the way of its folder, or the nearest
            existing folder cannot be written to.
    """
    hint = f"pick another {option} path"
    if path.is_dir():
        raise ConfigError(f"cannot write {what} {path}: it is a folder", hint=hint)
    existing = next((p for p in (path.parent, *path.parent.parents) if _exists(p)), Path("."))
    if not existing.is_dir():
        kind = "a file" if existing.is_file() else "not a folder"
        raise ConfigError(f"cannot write {what} {path}: {existing} is {kind}", hint=hint)
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ConfigError(f"cannot write {what} {path}: {existing} is not writable", hint=hint)


def write_text(path: Path, text: str, what: str, option: str) -> None:
    """Replace `path` with `text` atomically, creating its folder.

    Raises:
        ConfigError: the file cannot be written (as `check_writable`, or the disk refused).
    """
    check_writable(path, what, option)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise ConfigError(f"cannot write {what} {path}: {exc.strerror or exc}") from exc


def _exists(path: Path) -> bool:
    """Whether anything is at `path`, a dangling symlink included (`mkdir` fails on one)."""
    return path.exists() or path.is_symlink()
