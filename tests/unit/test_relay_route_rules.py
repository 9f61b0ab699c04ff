"""Which paths the relay serves: MLflow's own, as clients send them, and nothing else."""

from __future__ import annotations

import pytest

from mlflow_gitlab.relay.routes import canonical_query, encoded, is_served, normalised


@pytest.mark.parametrize("raw, path", [
    ("/api/2.0/mlflow/runs/get", "/api/2.0/mlflow/runs/get"),
    ("/api/2.0/mlflow/logged-models/m-0123abcd", "/api/2.0/mlflow/logged-models/m-0123abcd"),
    ("/api/2.0/mlflow-artifacts/artifacts/runs/abc/my%20report.txt",
     "/api/2.0/mlflow-artifacts/artifacts/runs/abc/my report.txt"),
    ("/api/2.0/mlflow-artifacts/artifacts/runs/abc/model/MLmodel",
     "/api/2.0/mlflow-artifacts/artifacts/runs/abc/model/MLmodel"),
])
def test_what_mlflow_clients_send_is_served_on_gitlab(raw, path):
    assert normalised(raw) == path
    assert is_served(path, gitlab=True)


@pytest.mark.parametrize("raw", ["/a/../b", "/a/./b", "/a//b", "/a/%2e%2e/b", "/a%2Fb",
                                 "/a%252e", "/a\\b", "/a%5cb", "/a%00", "/a%3F", "/a/",
                                 "http://host/a", "*", "", "/a%ff"])
def test_a_path_that_is_not_plain_is_refused(raw):
    assert normalised(raw) is None


@pytest.mark.parametrize("path, gitlab, served", [
    ("/api/2.0/mlflow/traces", True, False),
    ("/api/2.0/mlflow/traces", False, True),  # a plain MLflow server has them
    ("/api/3.0/mlflow/traces/search", False, True),
    ("/api/v4/user", True, False),
    ("/api/v4/user", False, False),
    ("/health", False, False),
    ("/api/2.0/mlflow-artifacts/artifactsX", True, False),
    ("/api/2.0/mlflow/runs/log-inputs", True, True),
])
def test_only_mlflow_routes_are_served(path, gitlab, served):
    assert is_served(path, gitlab=gitlab) is served


def test_what_is_forwarded_is_rebuilt_from_the_parts():
    assert encoded("/api/2.0/mlflow-artifacts/artifacts/runs/a/my report.txt") == \
        "/api/2.0/mlflow-artifacts/artifacts/runs/a/my%20report.txt"
    assert canonical_query("run_id=x/../../user#/x&metric_key=a b") == \
        "run_id=x%2F..%2F..%2Fuser%23%2Fx&metric_key=a+b"
