"""Write dotenv files for `artifacts:reports:dotenv`, within GitLab's strict parser rules."""

from __future__ import annotations

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


def prepare_dotenv(path: Path) -> None:
    """Create `path`'s folder now, so a path that cannot be written fails before any work.

    Raises:
        ConfigError: `path` is a folder, or its folder cannot be created.
    """
    if path.is_dir():
        raise ConfigError(f"cannot write dotenv file {path}: it is a folder")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        blocker = next((p for p in (path.parent, *path.parent.parents)
                        if p.exists() and not p.is_dir()), None)
        reason = f"{blocker} is a file" if blocker else exc.strerror or str(exc)
        raise ConfigError(f"cannot write dotenv file {path}: {reason}",
                          hint="pick another --dotenv path") from exc


def write_dotenv(path: Path, values: Mapping[str, str]) -> None:
    """Write (replace) `path` atomically, merging with keys already in it.

    Raises:
        ConfigError: a key or value GitLab would reject, or the file cannot be written.
    """
    prepare_dotenv(path)
    try:
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
