"""Write dotenv files for `artifacts:reports:dotenv`, within GitLab's strict parser rules."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from mlflow_gitlab.errors import ConfigError
from mlflow_gitlab.output.file import check_writable, write_text

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
    """Refuse a dotenv path that cannot be written, creating nothing (`check_writable`).

    Raises:
        ConfigError: `path` is a folder, or its folder cannot be made or written to.
    """
    check_writable(path, "dotenv file", "--dotenv")


def write_dotenv(path: Path, values: Mapping[str, str]) -> None:
    """Write (replace) `path` atomically, merging with keys already in it; create its folder.

    Raises:
        ConfigError: a key or value GitLab would reject, or the file cannot be written.
    """
    check_dotenv_path(path)
    existing: dict[str, str] = {}
    try:
        if path.exists():
            for line in path.read_text().splitlines():
                key, sep, value = line.partition("=")
                if sep:
                    existing[key] = value
    except OSError as exc:
        raise ConfigError(f"cannot read dotenv file {path}: {exc.strerror or exc}") from exc
    write_text(path, render_dotenv({**existing, **values}), "dotenv file", "--dotenv")
