"""Write dotenv files for `artifacts:reports:dotenv`, within GitLab's strict parser rules."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

from mlflow_gitlab.errors import ConfigError

_KEY = re.compile(r"[A-Za-z0-9_]+")
MAX_BYTES = 5 * 1024  # GitLab rejects larger dotenv reports


def render_dotenv(values: Mapping[str, str]) -> str:
    """KEY=VALUE lines; GitLab allows no spaces, quotes handling, comments or empty lines."""
    lines = []
    for key, value in values.items():
        if not _KEY.fullmatch(key):
            raise ConfigError(f"dotenv key {key!r} may contain only letters, digits and _")
        if any(c.isspace() for c in value):
            raise ConfigError(f"dotenv value of {key} contains whitespace, which GitLab rejects")
        lines.append(f"{key}={value}")
    text = "\n".join(lines) + "\n"
    if len(text.encode()) > MAX_BYTES:
        raise ConfigError("dotenv report would exceed GitLab's 5 KB limit")
    return text


def check_dotenv_path(path: Path) -> None:
    """Refuse a path that cannot be written, before any work and without creating anything
    (a command refused later leaves no folder behind); `write_dotenv` creates the folder.

    Raises:
        ConfigError: `path` is a folder, a file is in the way of its folder, or the nearest
            existing folder cannot be written to.
    """
    if path.is_dir():
        raise ConfigError(f"cannot write dotenv file {path}: it is a folder",
                          hint="pick another --dotenv path")
    existing = next((p for p in (path.parent, *path.parent.parents) if _exists(p)), Path("."))
    if not existing.is_dir():
        what = "a file" if existing.is_file() else "not a folder"
        raise ConfigError(f"cannot write dotenv file {path}: {existing} is {what}",
                          hint="pick another --dotenv path")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ConfigError(f"cannot write dotenv file {path}: {existing} is not writable",
                          hint="pick another --dotenv path")


def write_dotenv(path: Path, values: Mapping[str, str]) -> None:
    """Write (replace) `path` atomically, merging with keys already in it; create its folder.

    Raises:
        ConfigError: a key or value GitLab would reject, or the file cannot be written.
    """
    check_dotenv_path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        existing: dict[str, str] = {}
        if path.exists():
            for line in path.read_text().splitlines():
                key, sep, value = line.partition("=")
                if sep:
                    existing[key] = value
        text = render_dotenv({**existing, **values})
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(text)
        tmp.replace(path)
    except OSError as exc:
        raise ConfigError(f"cannot write dotenv file {path}: {exc.strerror or exc}") from exc


def _exists(path: Path) -> bool:
    """Whether anything is at `path`, a dangling symlink included (`mkdir` fails on one)."""
    return path.exists() or path.is_symlink()
