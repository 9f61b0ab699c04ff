"""Variables as text a shell or a tool reads back: `export` lines, dotenv lines or JSON."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping

FORMATS = ("shell", "dotenv", "json")
_PLAIN = re.compile(r"[A-Za-z0-9_@%+=:,./-]*")


def render_env(values: Mapping[str, str], fmt: str) -> str:
    """`values` in `fmt`: `shell` (`export K='V'`, for `eval`), `dotenv` (`K=V`, quoted as
    python-dotenv and docker compose unquote), or `json` (one object); no final newline."""
    if fmt == "json":
        return json.dumps(dict(values), indent=2)
    if fmt == "shell":
        return "\n".join(f"export {key}={_single_quoted(value)}" for key, value in values.items())
    if fmt == "dotenv":
        return "\n".join(f"{key}={_dotenv_value(value)}" for key, value in values.items())
    raise ValueError(f"unknown format {fmt!r}")


def _single_quoted(value: str) -> str:
    """Always quoted, so every line reads alike; `'` as `'"'"'`."""
    return "'" + value.replace("'", "'\"'\"'") + "'"


def _dotenv_value(value: str) -> str:
    if _PLAIN.fullmatch(value):
        return value
    if "'" not in value and "\n" not in value:
        return f"'{value}'"  # literal in both readers
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'

