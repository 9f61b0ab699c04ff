"""The one HTTP layer, seen through the CLI: redirects, deadlines and odd answers.

GitLab with object storage answers a package file download with a redirect to the bucket;
here a second local address (127.0.0.2, loopback) plays the bucket and records every
request it gets. The sandbox's faults play a misbehaving GitLab: redirects, HTML, bodies
of the wrong shape or size, and answers dripped one byte a second.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from mlflow_gitlab.errors import GitLabAPIError, RedirectRefused, UnexpectedAnswer
from mlflow_gitlab.gitlab_api import ProjectAPI, connect
from mlflow_gitlab.http import DeadlineExceeded
from mlflow_gitlab.packages import upload_paths
from mlflow_gitlab.settings import gitlab_settings
from tests import ci_envs
from tests.api.test_report import job_env as report_env
from tests.api.test_run import job_env
from tests.cli import mlflow_gitlab

CREDENTIALS = {"private-token", "job-token", "deploy-token", "authorization", "cookie"}
WEIGHTS = b"weights " * 1000
HTML = "<html><body>Sign in to continue</body></html>"
FILE = "/packages/generic/churn/1.0.0/model.pkl"


@dataclass
class Bucket:
    """What the second address received, and what it answers."""

    url: str
    body: bytes = WEIGHTS
    content_type: str = "application/octet-stream"
    received: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)

    def credentials(self) -> set[str]:
        return {k for _, _, headers in self.received for k in headers if k in CREDENTIALS}


@pytest.fixture
def bucket() -> Iterator[Bucket]:
    """A stdlib server on 127.0.0.2 standing for an object-storage bucket."""
    state: Bucket

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            state.received.append((self.command, self.path,
                                   {k.lower(): v for k, v in self.headers.items()}))
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            self.send_response(200)
            self.send_header("Content-Type", state.content_type)
            self.send_header("Content-Length", str(len(state.body)))
            self.end_headers()
            self.wfile.write(state.body)

        do_PUT = do_POST = do_GET

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.2", 0), Handler)
    server.daemon_threads = True
    state = Bucket(f"http://127.0.0.2:{server.server_address[1]}")
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


def env_for(sandbox, **extra: str) -> dict[str, str]:
    return {**job_env(sandbox), "MLFLOW_GITLAB_TOKEN": sandbox.tokens["developer"],
            "MLFLOW_GITLAB_RETRY_ATTEMPTS": "2", "MLFLOW_GITLAB_RETRY_SECONDS": "20", **extra}


def client_for(sandbox):
    return connect(gitlab_settings({
        "MLFLOW_GITLAB_URL": sandbox.url, "MLFLOW_GITLAB_PROJECT": "7",
        "MLFLOW_GITLAB_TOKEN": sandbox.tokens["developer"], "MLFLOW_GITLAB_RETRY_ATTEMPTS": "2"}))


@pytest.fixture
def work(tmp_path: Path) -> Path:
    root = tmp_path / "job"
    root.mkdir()
    (root / "model.pkl").write_bytes(WEIGHTS)
    return root


@pytest.fixture
def stored(sandbox, work: Path) -> None:
    """Package churn 1.0.0 holding model.pkl, uploaded as usual."""
    upload_paths(client_for(sandbox), "churn", "1.0.0", [work / "model.pkl"])


def one_error_line(result, *needles: str) -> str:
    """The run failed with exit 1 and one `error:` line (plus at most a hint) holding
    every needle, no traceback."""
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if not line.startswith("hint: ")]
    errors = [line for line in lines if line.startswith("error: ")]
    assert len(errors) == 1, result.stderr
    assert all(needle in errors[0] for needle in needles), errors[0]
    return errors[0]


DOWNLOAD = ("download", "--package", "churn", "--version", "1.0.0")
UPLOAD = ("upload", "model.pkl", "--package", "churn", "--version", "1.0.0")


# --- redirects ------------------------------------------------------------------------------


def test_a_download_redirected_to_the_bucket_arrives_verified_without_credentials(
        sandbox, bucket, stored, tmp_path):
    sandbox.inject("GET", FILE + "$", location=f"{bucket.url}/bucket/model.pkl?X-Amz-Signature=s")
    result = mlflow_gitlab(*DOWNLOAD, "--dest", str(tmp_path / "out"), env=env_for(sandbox))
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "out" / "model.pkl").read_bytes() == WEIGHTS
    assert [path for _, path, _ in bucket.received] == ["/bucket/model.pkl?X-Amz-Signature=s"]
    assert bucket.credentials() == set()


def test_a_redirected_download_is_still_verified(sandbox, bucket, stored, tmp_path):
    bucket.body = b"tampered" * 1000  # same size, other bytes
    sandbox.inject("GET", FILE + "$", location=f"{bucket.url}/bucket/model.pkl", times=5)
    result = mlflow_gitlab(*DOWNLOAD, "--dest", str(tmp_path / "out"), env=env_for(sandbox))
    one_error_line(result, hashlib.sha256(WEIGHTS).hexdigest())
    assert not (tmp_path / "out" / "model.pkl").exists()


def test_an_api_call_redirected_elsewhere_carries_no_token(sandbox, bucket, work):
    bucket.body, bucket.content_type = b"[]", "application/json"
    sandbox.inject("GET", r"/projects/7/packages$", location=f"{bucket.url}/api/v4/packages")
    result = mlflow_gitlab(*UPLOAD, cwd=work, env=env_for(sandbox))
    assert result.returncode == 0, result.stderr  # the listing came from 127.0.0.2: empty
    assert [path for _, path, _ in bucket.received] == ["/api/v4/packages"]
    assert bucket.credentials() == set()


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirected_upload_is_refused_at_once_and_sends_nothing_on(sandbox, bucket, work,
                                                                    status):
    sandbox.inject("PUT", FILE + "$", status=status, location=f"{bucket.url}/bucket/model.pkl")
    started = time.monotonic()
    result = mlflow_gitlab(*UPLOAD, cwd=work, env=env_for(sandbox), timeout=60)
    assert time.monotonic() - started < 15
    one_error_line(result, f"answered PUT packages/generic/churn/1.0.0/model.pkl with a "
                           f"redirect ({status}) to 127.0.0.2:",
                   "an upload is not sent again after a redirect")
    assert bucket.received == []


def test_a_relay_upstream_redirect_strips_the_bearer_token(sandbox, bucket):
    from mlflow_gitlab.relay.config import relay_config
    from mlflow_gitlab.relay.upstream import Upstream
    from mlflow_gitlab.settings import tracking_settings

    bucket.body, bucket.content_type = b'{"experiments": []}', "application/json"
    upstream = Upstream(tracking_settings({
        "MLFLOW_TRACKING_URI": sandbox.tracking_uri,
        "MLFLOW_TRACKING_TOKEN": sandbox.tokens["developer"]}), relay_config({}))
    sandbox.inject("GET", r"experiments/search$", location=f"{bucket.url}/search")
    response = upstream.call("GET", upstream.mlflow_url("experiments/search"))
    assert response.json() == {"experiments": []}
    assert bucket.credentials() == set()
    sandbox.inject("POST", r"runs/create$", status=307, location=f"{bucket.url}/create")
    with pytest.raises(RedirectRefused):
        upstream.call("POST", upstream.mlflow_url("runs/create"), json={"experiment_id": "0"})
    assert len(bucket.received) == 1


# --- deadlines ------------------------------------------------------------------------------


SLOW = {"MLFLOW_GITLAB_REQUEST_SECONDS": "2", "MLFLOW_GITLAB_RETRY_ATTEMPTS": "1"}


def test_an_upload_answered_drip_by_drip_ends_at_the_deadline(sandbox, work):
    sandbox.inject("PUT", FILE + "$", drip=1.0)
    started = time.monotonic()
    result = mlflow_gitlab(*UPLOAD, cwd=work, env=env_for(sandbox, **SLOW), timeout=60)
    assert time.monotonic() - started < 20
    one_error_line(result, "PUT packages/generic/churn/1.0.0/model.pkl",
                   "MLFLOW_GITLAB_REQUEST_SECONDS")


def test_a_download_dripped_byte_by_byte_ends_at_the_deadline(sandbox, stored, tmp_path):
    sandbox.inject("GET", FILE + "$", drip=1.0)
    started = time.monotonic()
    result = mlflow_gitlab(*DOWNLOAD, "--dest", str(tmp_path / "out"),
                           env=env_for(sandbox, **SLOW), timeout=60)
    assert time.monotonic() - started < 20
    one_error_line(result, "MLFLOW_GITLAB_REQUEST_SECONDS")
    assert not (tmp_path / "out" / "model.pkl").exists()


def test_the_relay_upstream_gives_up_on_a_dripping_server(sandbox):
    from mlflow_gitlab.relay.config import relay_config
    from mlflow_gitlab.relay.upstream import Upstream
    from mlflow_gitlab.settings import tracking_settings

    upstream = Upstream(tracking_settings({
        "MLFLOW_TRACKING_URI": sandbox.tracking_uri,
        "MLFLOW_TRACKING_TOKEN": sandbox.tokens["developer"]}), relay_config(SLOW))
    sandbox.inject("GET", r"experiments/search$", drip=1.0)
    started = time.monotonic()
    with pytest.raises(DeadlineExceeded):
        upstream.once("GET", upstream.mlflow_url("experiments/search"))
    assert time.monotonic() - started < 5


def test_no_request_outlives_the_retry_budget(sandbox):
    client = connect(gitlab_settings({
        "MLFLOW_GITLAB_URL": sandbox.url, "MLFLOW_GITLAB_PROJECT": "7",
        "MLFLOW_GITLAB_TOKEN": sandbox.tokens["developer"], "MLFLOW_GITLAB_RETRY_SECONDS": "2"}))
    assert client.settings.request_seconds == 120
    sandbox.inject("GET", r"/projects/7/packages$", drip=1.0)
    started = time.monotonic()
    with pytest.raises(GitLabAPIError, match="MLFLOW_GITLAB_REQUEST_SECONDS"):
        list(ProjectAPI(client).packages("churn"))
    assert time.monotonic() - started < 5


# --- odd answers ----------------------------------------------------------------------------


BIG = b"[" + b"0," * (25 << 20) + b"0]"  # a 50 MB JSON list


@pytest.mark.parametrize(("body", "content_type", "seen"), [
    (HTML, "text/html", f'200 text/html, not JSON starting "{HTML}"'),
    ("{}", "application/json", "200 application/json, JSON but not a list"),
    ('[{"id": 1}]', "application/json", "a list without 'name', 'version'"),
    ("", "application/json", "200 application/json, an empty body"),
    (BIG, "application/json", "200 application/json, a body over 16 MiB"),
], ids=["html", "object-for-list", "missing-keys", "empty", "50MB"])
def test_upload_odd_answers_are_one_line(sandbox, work, body, content_type, seen):
    sandbox.inject("GET", r"/projects/7/packages$", body=body, content_type=content_type)
    result = mlflow_gitlab(*UPLOAD, cwd=work, env=env_for(sandbox))
    line = one_error_line(result, f"unexpected answer from 127.0.0.1:{sandbox.url.rsplit(':')[-1]}"
                                  " to GET packages: ", seen)
    assert len(line) < 400


def test_an_upload_answered_with_a_list_is_one_line(sandbox, work):
    sandbox.inject("PUT", FILE + "$", status=201, body="[]", content_type="application/json")
    one_error_line(mlflow_gitlab(*UPLOAD, cwd=work, env=env_for(sandbox)),
                   "to PUT packages/generic/churn/1.0.0/model.pkl: 201 application/json, "
                   "JSON but not an object")


def test_a_token_echoed_in_an_odd_answer_is_masked(sandbox, work):
    token = sandbox.tokens["developer"]
    sandbox.inject("GET", r"/projects/7/packages$", body=f"<p>PRIVATE-TOKEN: {token}</p>",
                   content_type="text/html")
    line = one_error_line(mlflow_gitlab(*UPLOAD, cwd=work, env=env_for(sandbox)), "not JSON")
    assert token not in line and token[:12] not in line


@pytest.mark.parametrize(("body", "content_type", "seen"), [
    (HTML, "text/html", "200 text/html, a web page"),
    (BIG, "application/json", "a body over 16 MiB"),
], ids=["html", "50MB"])
def test_download_odd_answers_are_one_line(sandbox, stored, tmp_path, body, content_type,
                                           seen):
    sandbox.inject("GET", r"/manifest\.json$", body=body, content_type=content_type)
    result = mlflow_gitlab(*DOWNLOAD, "--dest", str(tmp_path / "out"), env=env_for(sandbox))
    one_error_line(result, "to GET packages/generic/churn/1.0.0/manifest.json", seen)


@pytest.mark.parametrize(("path", "body", "seen"), [
    (r"experiments/get-by-name$", HTML, "to GET ml/mlflow/api/2.0/mlflow/experiments/"
                                        "get-by-name: 200 text/html, not JSON"),
    (r"experiments/get-by-name$", "{}", "an object without 'experiment'"),
    (r"runs/search$", '{"runs": [{"info": {}}]}', "a run without the fields"),
    (r"runs/search$", BIG, "a body over 16 MiB"),
], ids=["html", "empty-object", "wrong-run", "50MB"])
def test_release_odd_answers_are_one_line(sandbox, api, path, body, seen):
    assert api.mlflow("POST", "experiments/create", json={"name": "demo-project"}).ok
    sandbox.inject("*", path, body=body, content_type="text/html" if body == HTML
                   else "application/json")
    env = {**job_env(sandbox, ci_envs.branch), "MLFLOW_GITLAB_RETRY_ATTEMPTS": "2"}
    result = mlflow_gitlab("release", "--model", "churn", "--metric", "loss", env=env)
    one_error_line(result, "unexpected answer from 127.0.0.1:", seen)


@pytest.mark.parametrize(("path", "body", "seen"), [
    (r"/merge_requests/1$", HTML, "to GET merge_requests/1: 200 text/html, not JSON"),
    (r"/pipelines$", "{}", "to GET pipelines: 200 application/json, JSON but not a list"),
    (r"/api/v4/user$", "[]", "to GET /api/v4/user: 200 application/json, JSON but not an "
                             "object"),
    (r"runs/search$", BIG, "a body over 16 MiB"),
], ids=["mr-html", "pipelines-object", "user-list", "runs-50MB"])
def test_report_odd_answers_are_one_line(sandbox, api, tmp_path, path, body, seen):
    assert api.mlflow("POST", "experiments/create", json={"name": "demo-project"}).ok
    sandbox.inject("GET" if "runs" not in path else "POST", path, body=body,
                   content_type="text/html" if body == HTML else "application/json")
    result = mlflow_gitlab("report", "--metric", "loss", "--output", str(tmp_path / "r.md"),
                           "--metrics-file", str(tmp_path / "m.txt"),
                           env=report_env(sandbox, tmp_path), timeout=120)
    one_error_line(result, "unexpected answer from 127.0.0.1:", seen)


def test_the_library_raises_unexpected_answer(sandbox):
    sandbox.inject("GET", r"/projects/7/packages$", body=json.dumps({"a": 1}))
    with pytest.raises(UnexpectedAnswer, match="JSON but not a list"):
        list(ProjectAPI(client_for(sandbox)).packages("churn"))
