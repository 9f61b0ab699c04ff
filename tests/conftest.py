"""Shared fixtures: a real sandbox on 127.0.0.1, and the stock clients pointed at it."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from mlflow_gitlab.sandbox import Sandbox, Settings, running_sandbox
from tests import cli, secrets_scan

# The stock clients retry 429/5xx for minutes by default; tests that want retries opt in.
os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "20")


@pytest.fixture(autouse=True)
def _no_token_leaks(tmp_path) -> Iterator[None]:
    """After each test: no known token value in what the tool printed (`tests.cli`), in a
    file under tmp_path (the commands' HOME, `cli.home()`, included), or in what a sandbox
    there stored. A leak is reported as an error in the test's teardown, naming where (not
    what)."""
    cli.home_dir = tmp_path / "home"
    yield
    try:
        leaks = secrets_scan.scan(tmp_path, cli.printed)
    finally:
        cli.printed.clear()
        cli.home_dir = None
        secrets_scan.allowed.clear()
    if leaks:
        pytest.fail("a token value leaked into: " + "; ".join(leaks), pytrace=False)


@pytest.fixture
def sandbox_settings() -> Settings:
    """Override in a test module to start the sandbox with other limits."""
    return Settings()


@pytest.fixture
def sandbox(tmp_path, sandbox_settings: Settings) -> Iterator[Sandbox]:
    """A fresh, seeded sandbox per test (its tokens known to the secrets scan)."""
    with running_sandbox(tmp_path / "sandbox-data", sandbox_settings) as sb:
        secrets_scan.remember(secrets_scan.token_values(sb))
        yield sb


class Api:
    """Raw HTTP against the sandbox, to assert exact status codes, headers and bodies."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.session = requests.Session()

    def url(self, path: str) -> str:
        """`path` relative to /api/v4 (`/projects/7/...`), or absolute from the server root."""
        base = self.sandbox.url if path.startswith(("/api/", "/-/")) else self.sandbox.api_url
        return base + path

    def mlflow_url(self, endpoint: str, project: str | int | None = None) -> str:
        pid = project if project is not None else self.sandbox.project_id
        return self.url(f"/projects/{pid}/ml/mlflow/api/2.0/mlflow/{endpoint}")

    def auth_headers(self, token: str | None, transport: str) -> dict[str, str]:
        if token is None:
            return {}
        value = self.sandbox.tokens.get(token, token)
        return {
            "private": {"PRIVATE-TOKEN": value},
            "bearer": {"Authorization": f"Bearer {value}"},
            "job": {"JOB-TOKEN": value},
        }[transport]

    def request(self, method: str, path_or_url: str, *, token: str | None = "developer",
                transport: str = "bearer", **kwargs: Any) -> requests.Response:
        url = path_or_url if path_or_url.startswith("http") else self.url(path_or_url)
        headers = {**self.auth_headers(token, transport), **kwargs.pop("headers", {})}
        return self.session.request(method, url, headers=headers, timeout=30, **kwargs)

    def admin(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """Call one of the sandbox's control routes (`/-/sandbox/...`) with its admin token."""
        return self.request(method, path, token=self.sandbox.admin_token, transport="private",
                            **kwargs)

    def mlflow(self, method: str, endpoint: str, *, token: str | None = "developer",
               project: str | int | None = None, **kwargs: Any) -> requests.Response:
        """Call an MLflow-compatible endpoint (`experiments/create`, ...) with a Bearer token."""
        return self.request(method, self.mlflow_url(endpoint, project), token=token, **kwargs)


@pytest.fixture
def api(sandbox: Sandbox) -> Api:
    return Api(sandbox)


@pytest.fixture
def mlflow_env(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> Sandbox:
    """Point the stock MLflow client at the sandbox's project, as a GitLab user would."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", sandbox.tracking_uri)
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", sandbox.tokens["developer"])
    monkeypatch.delenv("MLFLOW_EXPERIMENT_NAME", raising=False)
    monkeypatch.delenv("MLFLOW_EXPERIMENT_ID", raising=False)
    monkeypatch.delenv("MLFLOW_RUN_ID", raising=False)
    return sandbox


@pytest.fixture
def mlflow_client(mlflow_env: Sandbox):
    """A stock `MlflowClient` talking to the sandbox with the developer's `api` token."""
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=mlflow_env.tracking_uri)


@pytest.fixture
def gl(sandbox: Sandbox):
    """A stock python-gitlab client with the developer's token."""
    import gitlab

    return gitlab.Gitlab(sandbox.url, private_token=sandbox.tokens["developer"])


@pytest.fixture(scope="session")
def plain_mlflow_server(tmp_path_factory) -> Iterator[str]:
    """A stock `mlflow server` (not GitLab) on 127.0.0.1, for the non-GitLab code paths."""
    import socket
    import subprocess
    import sys
    import time

    root = tmp_path_factory.mktemp("mlflow-server")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port),
         "--backend-store-uri", f"sqlite:///{root}/mlflow.db",
         "--default-artifact-root", str(root / "artifacts"), "--workers", "1"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    ) as proc:
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 90
            while not _healthy(url):
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail("mlflow server did not start")
                time.sleep(0.2)
            yield url
        finally:
            # `mlflow server` runs uvicorn as a child: stop the whole process group.
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)


def _healthy(url: str) -> bool:
    try:
        return requests.get(f"{url}/health", timeout=2).ok
    except requests.RequestException:
        return False
