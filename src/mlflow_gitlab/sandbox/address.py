"""A data folder's address: the host and port its sandbox serves on, kept so links stay valid.

Runs, notes and model versions embed the sandbox's base URL (as GitLab's embed its own), and
so do the CI variables of its jobs. Each start records the address it listens on in
`<data>/address.json` (0600); `mlflow-gitlab sandbox serve --data DIR` without `--host` or
`--port` listens there again, so the links stored in the folder still open after a restart.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from mlflow_gitlab.errors import SandboxError
from mlflow_gitlab.sandbox.data_dir import private_file

ADDRESS_FILE = "address.json"
DEFAULT_HOST = "127.0.0.1"


@dataclass(frozen=True)
class Address:
    """Where a data folder's sandbox listens: the host it binds, its port, and its URL."""

    host: str
    port: int
    url: str


def recorded(data_dir: Path) -> Address | None:
    """The address recorded in `data_dir`, None when it has none (or an unreadable one)."""
    try:
        data = json.loads((Path(data_dir) / ADDRESS_FILE).read_text())
        return Address(str(data["host"]), int(data["port"]), str(data["url"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def record(data_dir: Path, address: Address) -> None:
    """Record `address` in `data_dir`, atomically (a reader never sees half of it)."""
    path = Path(data_dir) / ADDRESS_FILE
    tmp = path.with_name(path.name + ".tmp")
    body = {"host": address.host, "port": address.port, "url": address.url}
    try:
        with private_file(tmp) as fh:
            fh.write((json.dumps(body) + "\n").encode())
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise SandboxError(f"cannot record the address in {path}: "
                           f"{exc.strerror or exc}") from exc


def choose(data_dir: Path | None, host: str | None, port: int | None
           ) -> tuple[str, int, Address | None]:
    """The host and port to listen on, and the record they come from (None: the options).

    An option given wins; a data folder's recorded host and port fill the others in; without
    either, loopback and a free port (0).
    """
    record_ = recorded(data_dir) if data_dir is not None else None
    if record_ is None or (host is not None and port is not None):
        return host or DEFAULT_HOST, port if port is not None else 0, None
    return host or record_.host, port if port is not None else record_.port, record_


def recorded_port_taken(data_dir: Path, address: Address, reason: str) -> SandboxError:
    """The error for a data folder whose recorded port cannot be listened on."""
    return SandboxError(
        f"cannot listen on port {address.port} ({reason}): the links stored in {data_dir} "
        f"point at {address.url}",
        hint=f"stop what listens there (an earlier 'mlflow-gitlab sandbox serve --data "
             f"{data_dir}'?), or pass --port to serve the folder elsewhere (links made "
             f"before then keep the old address)")
