"""Where a git remote points: its server and the project's path there (pure)."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

_SCP_REMOTE = re.compile(r"\A(?:[^@/]+@)?(?P<host>[^:/]+):(?P<path>[^/].*)\Z")


def remote_project(remote_url: str | None) -> tuple[str, str] | None:
    """(host, `group/project` path) of a git remote on a server (HTTPS, SSH or
    `git@host:path` form), `.git` removed; None for a local path or no remote."""
    if not remote_url:
        return None
    if "://" in remote_url:
        parts = urlsplit(remote_url)
        host, path = parts.hostname, parts.path
        if parts.scheme == "file":
            return None
    else:
        match = _SCP_REMOTE.match(remote_url)
        if match is None:
            return None
        host, path = match["host"], match["path"]
    path = path.strip("/").removesuffix(".git").strip("/")
    return (host, path) if host and "/" in path else None
