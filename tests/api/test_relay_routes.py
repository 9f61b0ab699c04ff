"""The relay serves MLflow routes of its project only: path tricks are 404 and reach nobody.

Requests go out through `http.client`, which sends a path exactly as given (requests and
urllib3 would normalise `..` away before it leaves), to `mlflow-gitlab relay` in its own
process. The sandbox records every request it receives, so a probe that got through shows.
"""

from __future__ import annotations

import http.client
import json
from urllib.parse import urlsplit

import pytest

from tests.api.relay_env import job_env, standalone_relay

PROBES = [
    ("GET", "/../../../../user"),
    ("GET", "/api/2.0/mlflow/../../../../../../user"),
    ("GET", "/%2e%2e/%2e%2e/%2e%2e/%2e%2e/user"),
    ("GET", "/api/2.0/mlflow/%2E%2E/%2E%2E/%2E%2E/%2E%2E/%2E%2E/%2E%2E/user"),
    ("GET", "/api/2.0/mlflow/runs%2F..%2F..%2F..%2F..%2F..%2F..%2Fuser"),
    ("GET", "/api/2.0/mlflow/%252e%252e/%252e%252e/user"),
    ("GET", "/api/2.0/mlflow/..\\..\\..\\..\\..\\..\\user"),
    ("GET", "/api/2.0/mlflow/..%5c..%5c..%5c..%5c..%5c..%5cuser"),
    ("GET", "//user"),
    ("GET", "/api/2.0/mlflow//experiments/search"),
    ("GET", "/api/2.0/mlflow/./experiments/list"),
    ("GET", "/api/2.0/mlflow/experiments/list%3Fx=1"),
    ("GET", "/api/2.0/mlflow/experiments/list%00"),
    ("GET", "/api/v4/user"),
    ("GET", "/api/v4/projects/1"),
    ("GET", "/api/v4/projects/2/ml/mlflow/api/2.0/mlflow/experiments/list"),
    ("GET", "/api/2.0/mlflow/traces"),
    ("GET", "/api/3.0/mlflow/traces/search"),
    ("GET", "/health"),
    ("PUT", "/../../packages/generic/evil/1.0.0/evil.txt"),
    ("PUT", "/api/2.0/mlflow/../../../../../../projects/1/packages/generic/evil/1.0.0/x.txt"),
    ("PUT", "/api/2.0/mlflow-artifacts/artifacts/runs/abc/../../../../generic/evil/1/x.txt"),
    ("PUT", "/api/2.0/mlflow-artifacts/artifacts/runs/abc/..%2F..%2Fevil.txt"),
]


def send(relay_uri: str, method: str, path: str, body: bytes | None = None
         ) -> tuple[int, dict]:
    """One raw request: the path goes out byte for byte."""
    where = urlsplit(relay_uri)
    conn = http.client.HTTPConnection(where.hostname, where.port, timeout=30)
    try:
        conn.putrequest(method, path, skip_accept_encoding=True)
        conn.putheader("Content-Length", str(len(body or b"")))
        conn.endheaders(body)
        response = conn.getresponse()
        raw = response.read()
    finally:
        conn.close()
    try:
        return response.status, json.loads(raw)
    except ValueError:
        return response.status, {"raw": raw[:200].decode(errors="replace")}


@pytest.fixture
def relay_uri(sandbox):
    with standalone_relay(job_env(sandbox)) as uri:
        yield uri


def test_paths_outside_the_projects_mlflow_routes_are_404_and_never_reach_gitlab(
        sandbox, relay_uri):
    sandbox.clear_faults()
    sandbox.inject(path=".*", delay=0.001, times=1_000_000)  # records every request
    for method, path in PROBES:
        status, body = send(relay_uri, method, path, b"stolen" if method == "PUT" else None)
        assert (status, body.get("error_code")) == (404, "ENDPOINT_NOT_FOUND"), (path, body)
        assert "mlflow-gitlab relay" in body["message"]
    assert sandbox.fired == []
    # a served route still goes through, and is recorded: the probes above really were not
    status, body = send(relay_uri, "GET", "/api/2.0/mlflow/experiments/list")
    assert status == 200 and "experiments" in body
    assert [f["path"] for f in sandbox.fired] == [
        f"/api/v4/projects/{sandbox.project_id}/ml/mlflow/api/2.0/mlflow/experiments/list"]


def test_a_query_only_carries_parameters_to_the_route_it_came_with(sandbox, relay_uri):
    sandbox.clear_faults()
    sandbox.inject(path=".*", delay=0.001, times=1_000_000)
    status, body = send(relay_uri, "GET",
                        "/api/2.0/mlflow/runs/get?run_id=x/../../../../../../user#/../user")
    assert status == 404 and "username" not in json.dumps(body)
    (fired,) = sandbox.fired
    assert fired["path"].endswith("/ml/mlflow/api/2.0/mlflow/runs/get")
