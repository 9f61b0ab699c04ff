"""Start and stop a sandbox: the CLI's `serve` and the in-process context manager for tests."""

from __future__ import annotations

import json
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlflow_gitlab.errors import SandboxError
from mlflow_gitlab.sandbox.address import Address, record
from mlflow_gitlab.sandbox.app import App, Settings, build_app
from mlflow_gitlab.sandbox.backend import deploy_tokens
from mlflow_gitlab.sandbox.backend.store import Store
from mlflow_gitlab.sandbox.data_dir import private_file
from mlflow_gitlab.sandbox.exposure import reachable_host
from mlflow_gitlab.sandbox.faults import Fault
from mlflow_gitlab.sandbox.httpd import SandboxHTTPServer
from mlflow_gitlab.sandbox.seed import admin_token, seed


class CannotListen(SandboxError):
    """Raised when the sandbox cannot bind its host and port (`reason`: the system's words)."""

    def __init__(self, message: str, *, reason: str, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.reason = reason


@dataclass
class Sandbox:
    """A running sandbox: the fields of the `ready` JSON plus control methods."""

    url: str
    api_url: str
    project_id: int
    project_path: str
    merge_request_iid: int
    pipeline_id: int
    job_ids: list[int]
    tokens: dict[str, str]
    admin_token: str = field(repr=False)
    deploy_token: dict[str, str]  # {"username", "token"}: read_package_registry
    data_dir: Path
    app: App = field(repr=False)
    _server: SandboxHTTPServer = field(repr=False)
    _thread: threading.Thread | None = field(default=None, repr=False)

    @property
    def tracking_uri(self) -> str:
        """The MLflow tracking URI of the seeded project."""
        return f"{self.api_url}/projects/{self.project_id}/ml/mlflow"

    def ready_info(self) -> dict[str, Any]:
        """The `ready` JSON object (see `mlflow-gitlab sandbox serve`)."""
        return {
            "url": self.url, "api_url": self.api_url, "project_id": self.project_id,
            "project_path": self.project_path, "merge_request_iid": self.merge_request_iid,
            "pipeline_id": self.pipeline_id, "job_ids": self.job_ids, "tokens": self.tokens,
            "admin_token": self.admin_token,
            "deploy_token": self.deploy_token,
        }

    def inject(self, method: str = "*", path: str = ".*", *, status: int | None = None,
               times: int = 1, retry_after: float | None = None, delay: float = 0.0,
               drop: bool = False, drop_after: int = 0, processed: bool = False,
               body: Any = None, content_type: str | None = None, location: str | None = None,
               drip: float = 0.0, echo: str | None = None, skip: int = 0) -> Fault:
        """Make the next `times` requests matching `method` and the `path` regex misbehave
        (after letting `skip` of them through; see `Fault`)."""
        return self.app.faults.add(Fault(
            method, path, times, status, retry_after, delay, drop, drop_after,
            processed=processed, body=body, content_type=content_type, location=location,
            drip=drip, echo=echo, skip=skip))

    @property
    def fired(self) -> list[dict[str, object]]:
        """The faults that have fired, oldest first."""
        return list(self.app.faults.fired)

    def clear_faults(self) -> None:
        self.app.faults.clear()

    def serve_forever(self) -> None:
        self._server.serve_forever(poll_interval=0.05)

    def stop(self) -> None:
        """Go away as a server that dies does: stop answering and cut open connections,
        stop listening, let handlers inside the App finish, then close the store."""
        self._server.drop_connections()
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._server.wait_idle(timeout=10)  # their connections are cut: they end soon
        self.app.store.close()

    @contextmanager
    def outage(self) -> Iterator[None]:
        """Down for the block (as if the server died: connections are cut, new ones are
        refused), then serving the same data on the same port again, as a restarted
        `mlflow-gitlab sandbox serve --data DIR --port N` would. Pending faults are dropped."""
        host, port = self._server.server_address[:2]
        self.stop()
        try:
            yield
        finally:
            try:
                again = start(self.data_dir, str(host), int(port), self.app.settings)
            except SandboxError as exc:
                # Raised from `finally`: say plainly that it is the restart that failed (an
                # error of the block, if any, stays in the chain).
                raise SandboxError(f"the sandbox did not come back after the outage: {exc}",
                                   hint=exc.hint) from exc
            self.app, self._server, self._thread = again.app, again._server, again._thread


def start(data_dir: Path, host: str = "127.0.0.1", port: int = 0,
          settings: Settings | None = None, *, background: bool = True) -> Sandbox:
    """Open (or create and seed) the data directory, bind, record the address it listens on
    in the folder (`address.py`), and serve in a thread."""
    store = Store(data_dir)  # raises SandboxError
    app = build_app(store, settings)
    try:
        server = SandboxHTTPServer((host, port), app)
    except OSError as exc:
        store.close()
        reason = exc.strerror or str(exc)
        raise CannotListen(f"cannot listen on {host}:{port}: {reason}", reason=reason,
                           hint="pick another --port, or 0 for a free one") from exc
    bound_host, bound_port = server.server_address[:2]
    url = f"http://{_url_host(reachable_host(str(bound_host)))}:{bound_port}"
    app.base_url = url
    try:
        record(Path(data_dir), Address(host, int(bound_port), url))
    except SandboxError:
        server.server_close()
        store.close()
        raise
    info = seed(store)
    app.admin_token = admin_token(store)
    info["deploy_token"] = deploy_tokens.ensure_seeded(store, info["project_id"])
    sandbox = Sandbox(url=url, api_url=f"{url}/api/v4", data_dir=Path(data_dir), app=app,
                      _server=server, admin_token=app.admin_token, **info)
    app.info = sandbox.ready_info()
    if background:
        sandbox._thread = threading.Thread(target=sandbox.serve_forever,
                                           name="mlflow-gitlab-sandbox", daemon=True)
        sandbox._thread.start()
    return sandbox


@contextmanager
def running_sandbox(data_dir: Path | None = None, settings: Settings | None = None,
                    host: str = "127.0.0.1", port: int = 0) -> Iterator[Sandbox]:
    """Run a sandbox in this process on a free port for the duration of the block.

    Example:
        with running_sandbox() as sb:
            os.environ["MLFLOW_TRACKING_URI"] = sb.tracking_uri
            os.environ["MLFLOW_TRACKING_TOKEN"] = sb.tokens["developer"]
    """
    with tempfile.TemporaryDirectory(prefix="mlflow-gitlab-sandbox-") as tmp:
        sandbox = start(Path(data_dir or tmp), host, port, settings)
        try:
            yield sandbox
        finally:
            sandbox.stop()


def write_ready_file(sandbox: Sandbox, path: Path) -> None:
    """Write the ready JSON atomically and readable by its owner only (it holds every token),
    so a reader never sees half of it."""
    tmp = path.with_name(path.name + ".tmp")
    try:
        with private_file(tmp) as fh:
            fh.write((json.dumps(sandbox.ready_info()) + "\n").encode())
        tmp.replace(path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise SandboxError(f"cannot write the ready file {path}: {exc.strerror or exc}") from exc


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host
