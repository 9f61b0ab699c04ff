"""The sandbox's routing, error families, auth outcomes and fault injection."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import threading
import time

import pytest
import requests

from mlflow_gitlab.errors import SandboxError
from mlflow_gitlab.sandbox import running_sandbox
from tests.cli import popen
from tests.secrets_scan import allow


def test_unknown_route_is_grape_404(api):
    r = api.request("GET", "/projects/7/no/such/route")
    assert r.status_code == 404
    assert r.json() == {"error": "404 Not Found"}


def test_unsupported_mlflow_endpoint_is_404(api):
    r = api.mlflow("POST", "runs/log-model", json={"run_id": "x"})
    assert (r.status_code, r.json()) == (404, {"error": "404 Not Found"})


def test_invalid_token_is_401(api):
    r = api.mlflow("GET", "experiments/get", token="glpat-not-a-real-token",
                   params={"experiment_id": "1"})
    assert (r.status_code, r.json()) == (401, {"message": "401 Unauthorized"})


def test_injected_429_has_retry_after_and_rate_limit_headers(sandbox, api):
    sandbox.inject("GET", r"/experiments/get", status=429, retry_after=3)
    r = api.mlflow("GET", "experiments/get", params={"experiment_id": "1"})
    assert r.status_code == 429
    assert r.text == "Retry later\n"
    assert r.headers["Retry-After"] == "3"
    assert r.headers["RateLimit-Remaining"] == "0"
    assert "RateLimit-Reset" in r.headers
    # only once: the next request goes through to the endpoint
    assert api.mlflow("GET", "experiments/get", params={"experiment_id": "1"}).status_code != 429
    assert [f["status"] for f in sandbox.fired] == [429]


def test_injected_fault_counts_down(sandbox, api):
    sandbox.inject("*", r"/-/sandbox/info", status=503, times=2)
    codes = [api.admin("GET", "/-/sandbox/info").status_code for _ in range(3)]
    assert codes == [503, 503, 200]


def test_injected_delay(sandbox, api):
    sandbox.inject("GET", r"/-/sandbox/info", delay=0.3)
    started = time.monotonic()
    assert api.admin("GET", "/-/sandbox/info").status_code == 200
    assert time.monotonic() - started >= 0.3


def test_dropped_connection_mid_upload(sandbox, api):
    sandbox.inject("PUT", r"/packages/generic/", drop=True, drop_after=1000)
    with pytest.raises(requests.ConnectionError):
        api.request("PUT", "/projects/7/packages/generic/pkg/1.0.0/blob.bin",
                    data=b"x" * 200_000)


def test_dropped_connection_mid_download(sandbox, api):
    sandbox.inject("GET", r"/-/sandbox/info", drop=True, drop_after=10)
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        _ = api.admin("GET", "/-/sandbox/info").content


def test_faults_over_http(sandbox, api):
    r = api.admin("POST", "/-/sandbox/faults",
                  json={"method": "GET", "path": "/-/sandbox/info", "status": 500})
    assert r.status_code == 201
    assert api.admin("GET", "/-/sandbox/info").status_code == 500
    assert api.admin("GET", "/-/sandbox/faults").json()["fired"][0]["status"] == 500
    r = api.admin("POST", "/-/sandbox/faults", json={"path": "x"})
    assert r.status_code == 400


def test_ready_info_has_the_interface_fields(sandbox):
    info = sandbox.ready_info()
    assert set(info) == {"url", "api_url", "project_id", "project_path", "merge_request_iid",
                         "pipeline_id", "job_ids", "tokens", "admin_token", "deploy_token"}
    assert set(info["deploy_token"]) == {"username", "token"}
    assert {"developer", "read_api", "reporter", "non_member", "job"} <= set(info["tokens"])


def test_data_survives_restart(tmp_path):
    data = tmp_path / "data"
    with running_sandbox(data) as first:
        tokens = first.tokens
    with running_sandbox(data) as second:
        assert second.tokens == tokens


def test_serve_command_writes_ready_file(tmp_path):
    ready = tmp_path / "ready.json"
    allow(ready)  # the sandbox hands out its tokens there (and on stdout) by design
    with popen("sandbox", "serve", "--port", "0", "--data", str(tmp_path / "d"),
               "--ready-file", str(ready), env=os.environ,
               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True) as proc:
        try:
            deadline = time.monotonic() + 20
            while not ready.exists() and time.monotonic() < deadline:
                time.sleep(0.05)
            info = json.loads(ready.read_text())
            admin = {"PRIVATE-TOKEN": info["admin_token"]}
            assert requests.get(info["url"] + "/-/sandbox/info", headers=admin,
                                timeout=5).json() == info
            assert json.loads(proc.stdout.readline()) == info
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    assert proc.returncode == 0


def test_requests_in_flight_when_it_stops_are_cut_never_answered_500(tmp_path, capfd):
    """A stop while clients keep asking: each request is answered whole or its connection is
    cut, as when a real server goes away; none meets the closed store (a 500, a traceback)."""
    outcomes: list[object] = []

    def ask(url: str, token: str) -> None:
        with requests.Session() as session:
            while True:
                try:
                    r = session.get(f"{url}/projects/7/packages", timeout=10,
                                    headers={"PRIVATE-TOKEN": token})
                except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError):
                    outcomes.append("cut")  # refused, reset, or closed before a whole answer
                    return
                outcomes.append(r.status_code)

    with running_sandbox(tmp_path / "data") as sb:
        clients = [threading.Thread(target=ask, args=(sb.api_url, sb.tokens["developer"]))
                   for _ in range(8)]
        for client in clients:
            client.start()
        time.sleep(0.5)
        sb.stop()
        for client in clients:
            client.join(timeout=20)
    assert outcomes.count("cut") == len(clients)
    assert set(outcomes) == {200, "cut"}
    assert "Traceback" not in capfd.readouterr().err


def test_an_outage_whose_port_was_taken_meanwhile_fails_saying_so(tmp_path):
    with running_sandbox(tmp_path / "data") as sb:
        port = int(sb.url.rpartition(":")[2])
        expected = rf"^the sandbox did not come back after the outage: cannot listen on " \
                   rf"127\.0\.0\.1:{port}: "
        # Another process takes the port while it is down.
        with socket.socket() as squatter, pytest.raises(SandboxError, match=expected), \
                sb.outage():
            squatter.bind(("127.0.0.1", port))
            squatter.listen()
