"""Who may drive the sandbox: control routes need its admin token, its data folder is its
owner's alone, and listening beyond loopback is said out loud."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

from mlflow_gitlab.sandbox import running_sandbox
from mlflow_gitlab.sandbox.exposure import exposure_warning, is_loopback, reachable_host
from tests.cli import mlflow_gitlab, popen, record
from tests.secrets_scan import allow

CONTROL_ROUTES = [
    ("GET", "/-/sandbox/info", None),
    ("GET", "/-/sandbox/faults", None),
    ("POST", "/-/sandbox/faults", {"path": "/user", "status": 500}),
    ("DELETE", "/-/sandbox/faults", None),
    ("POST", "/-/sandbox/pipelines", {"jobs": [{"name": "train", "status": "running"}]}),
    ("PUT", "/-/sandbox/pipelines/1001", {"status": "success"}),
    ("PUT", "/-/sandbox/jobs/5001", {"status": "success"}),
    ("POST", "/-/sandbox/merge_requests", {"title": "x", "source_branch": "x"}),
]


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def state(sandbox) -> tuple:
    """What a control call could change: pipelines, jobs, tokens, MRs, pending faults."""
    store = sandbox.app.store
    rows = tuple(tuple(map(tuple, store.all(f"SELECT * FROM {table} ORDER BY id")))
                 for table in ("pipelines", "jobs", "tokens", "merge_requests"))
    return rows, sandbox.app.faults.pending()


@pytest.mark.parametrize(("method", "path", "body"), CONTROL_ROUTES,
                         ids=[f"{m} {p}" for m, p, _ in CONTROL_ROUTES])
def test_control_routes_refuse_callers_without_the_admin_token(api, sandbox, method, path,
                                                               body):
    before = state(sandbox)
    anonymous = api.request(method, path, token=None, json=body)
    assert (anonymous.status_code, anonymous.json()) == (401, {"message": "401 Unauthorized"})
    for token, transport in (("developer", "private"), ("maintainer", "bearer"),
                             ("glsandbox-guessed", "private")):
        r = api.request(method, path, token=token, transport=transport, json=body)
        assert r.status_code == 403, (token, r.text)
        assert "admin token" in r.json()["message"]
    assert "tokens" not in anonymous.text
    assert state(sandbox) == before
    r = api.admin(method, path, json=body)
    assert r.status_code in (200, 201, 204), r.text


def test_the_admin_token_is_in_the_ready_json_and_opens_info(api, sandbox):
    info = sandbox.ready_info()
    assert info["admin_token"] == sandbox.admin_token
    assert info["admin_token"] not in info["tokens"].values()
    bearer = {"Authorization": f"Bearer {sandbox.admin_token}"}
    assert api.request("GET", "/-/sandbox/info", token=None, headers=bearer).json() == info
    # it is no GitLab token: the API does not take it
    assert api.request("GET", "/user", token=sandbox.admin_token).status_code == 401


def test_the_admin_token_survives_a_restart(tmp_path):
    with running_sandbox(tmp_path / "data") as first:
        token = first.admin_token
    with running_sandbox(tmp_path / "data") as second:
        assert second.admin_token == token


# --- `sandbox serve`: the data folder and the ready file ------------------------------------


@contextmanager
def serving(tmp_path: Path, *args: str) -> Iterator[tuple[dict, dict[str, str]]]:
    """`mlflow-gitlab sandbox serve ... --ready-file`, until the block ends: the ready JSON,
    and what it printed on stderr (filled in when the block ends)."""
    printed: dict[str, str] = {}
    ready = tmp_path / "ready.json"
    allow(ready)  # the ready JSON holds the tokens by design
    with popen("sandbox", "serve", "--port", "0", "--ready-file", str(ready), *args,
               env=os.environ, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
               text=True) as proc:
        try:
            deadline = time.monotonic() + 20
            while not ready.exists():
                assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read()
                time.sleep(0.05)
            yield json.loads(ready.read_text()), printed
        finally:
            proc.terminate()
            _, err = proc.communicate(timeout=10)
            record(("sandbox", "serve"), err)  # stdout: the ready JSON, tokens by design
            printed["stderr"] = err


def test_serve_keeps_its_data_folder_and_ready_file_private(tmp_path):
    data = tmp_path / "data"
    with serving(tmp_path, "--data", str(data)) as (info, _):
        headers = {"PRIVATE-TOKEN": info["admin_token"]}
        assert requests.get(info["url"] + "/-/sandbox/info", headers=headers,
                            timeout=5).json() == info
        assert requests.get(info["url"] + "/-/sandbox/info", timeout=5).status_code == 401
        assert mode(data) == 0o700
        assert mode(tmp_path / "ready.json") == 0o600
        for name in ("sandbox.db", "sandbox.db-wal", "sandbox.db-shm"):
            assert mode(data / name) == 0o600, name


def test_serve_tightens_a_data_folder_it_made_earlier(tmp_path):
    data = tmp_path / "data"
    with running_sandbox(data):
        pass
    data.chmod(0o755)
    (data / "sandbox.db").chmod(0o644)
    with serving(tmp_path, "--data", str(data)):
        assert (mode(data), mode(data / "sandbox.db")) == (0o700, 0o600)


def test_serve_refuses_a_folder_that_holds_other_files(tmp_path):
    data = tmp_path / "notes"
    data.mkdir(mode=0o755)
    (data / "todo.txt").write_text("mine")
    result = mlflow_gitlab("sandbox", "serve", "--port", "0", "--data", str(data),
                           env=os.environ, timeout=30)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.splitlines()
    assert lines[0] == f"error: data directory {data} holds other files and no sandbox.db"
    assert len(lines) == 2 and lines[1].startswith("hint: ")
    assert "Traceback" not in result.stderr
    assert sorted(p.name for p in data.iterdir()) == ["todo.txt"]
    assert mode(data) == 0o755


def test_serve_on_loopback_prints_no_warning(tmp_path):
    with serving(tmp_path) as (info, printed):
        assert info["url"].startswith("http://127.0.0.1:")
    assert printed["stderr"].startswith(f"sandbox listening on {info['url']}"), printed
    assert "warning" not in printed["stderr"]


# --- beyond loopback: the warning and the address (no test binds beyond loopback) ---------


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "localhost"])
def test_loopback_hosts_keep_their_address_and_get_no_warning(host):
    assert is_loopback(host)
    assert reachable_host(host) == host
    assert exposure_warning(host, f"http://{host}:1") is None


@pytest.mark.parametrize("host", ["0.0.0.0", "::"])
def test_a_wildcard_host_is_reported_with_an_address_others_can_use(host):
    address = reachable_host(host)
    assert address not in ("0.0.0.0", "::", "")
    warning = exposure_warning(host, f"http://{address}:8080")
    assert warning is not None and warning.startswith("warning: listening on every network")
    assert f"http://{address}:8080" in warning and "--host 127.0.0.1" in warning


def test_a_named_address_is_warned_about_as_it_is():
    assert reachable_host("192.0.2.10") == "192.0.2.10"
    warning = exposure_warning("192.0.2.10", "http://192.0.2.10:80")
    assert warning is not None and "listening on 192.0.2.10" in warning
