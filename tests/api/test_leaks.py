"""No form of a token escapes a command's error paths.

Each probe runs a command once per call it makes, that call answered with an error whose
body echoes the request line and headers (`PRIVATE-TOKEN`, `JOB-TOKEN`, `Authorization`), as
some proxies do; the run after the last call is the clean one. The tokens have no GitLab
shape (as legacy, OAuth or custom-prefix tokens): only knowing them masks them. What the
command printed must hold no form of them (as is, percent-encoded, base64), and the suite's
scan (`conftest.py`) checks the files it wrote and what the sandbox stored after each test.
"""

from __future__ import annotations

import json
import os
import secrets
import sys
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

import pytest
import requests

from tests import ci_envs
from tests.api.relay_env import standalone_relay
from tests.cli import home, mlflow_gitlab
from tests.secrets_scan import Needles

# How the k-th call is answered: GitLab's JSON shape on one line, or a raw echo of the head.
ANSWERS = (("json", 403), ("json", 400), ("text", 400))
LOG_A_METRIC = "import mlflow; mlflow.log_metric('loss', 0.5)"


def shapeless_token(sandbox, like: str) -> str:
    """A new token acting as the sandbox token `like`, with no recognisable shape."""
    value = secrets.token_urlsafe(18)
    with sandbox.app.store.tx() as db:
        db.execute("INSERT INTO tokens (value, user_id, kind, scopes, job_id, label) "
                   "SELECT ?, user_id, kind, scopes, job_id, label FROM tokens WHERE value = ?",
                   (value, sandbox.tokens.get(like, like)))
    return value


def probe(sandbox, args: Callable[[int], tuple[str, ...]],
          env: dict[str, str] | Callable[[int], dict[str, str]], tokens, *, cwd: Path,
          before: Callable[[int], None] | None = None, limit: int = 40) -> int:
    """Run `args(k)` (in `env`, or `env(k)`) with the k-th call echoed, for k = 0, 1, ...
    until a run makes fewer calls; return how many calls were probed."""
    needles = Needles(tokens)
    for call in range(limit):
        if before is not None:
            before(call)
        sandbox.clear_faults()
        echo, status = ANSWERS[call % len(ANSWERS)]
        sandbox.inject(status=status, echo=echo, skip=call)
        result = mlflow_gitlab(*args(call), env=env(call) if callable(env) else env, cwd=cwd,
                               timeout=120)
        fired = sandbox.fired
        printed = result.stdout + result.stderr
        where = f"{fired[0]['method']} {fired[0]['path']}" if fired else "no fault"
        assert not needles.found_in(printed), f"call {call} ({where}):\n{needles.mask(printed)}"
        if not fired:
            assert result.returncode == 0, printed
            return call
    pytest.fail(f"{args(0)} made more than {limit} calls")


def job(sandbox, **variables: str) -> dict[str, str]:
    """A merge-request job pointed at the sandbox, with `variables` (the tokens) only."""
    env = ci_envs.merge_request()
    env.update({"PATH": os.environ["PATH"], "HOME": home(), "CI_PROJECT_NAME": "demo-project",
                "CI_SERVER_URL": sandbox.url, "CI_API_V4_URL": sandbox.api_url,
                "CI_PROJECT_URL": f"{sandbox.url}/ml-team/demo-project",
                "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0", "MLFLOW_GITLAB_RETRY_ATTEMPTS": "1"})
    for name in ("CI_JOB_TOKEN", "CI_REGISTRY_PASSWORD", "CI_REPOSITORY_URL"):
        env.pop(name)
    env.update(variables)
    return env


@pytest.fixture
def work(tmp_path) -> Path:
    root = tmp_path / "work"
    (root / "outputs").mkdir(parents=True)
    (root / "outputs" / "model.pkl").write_bytes(b"weights")
    (root / "outputs" / "notes.txt").write_text("fine")
    return root


@pytest.mark.parametrize("kind", ["personal", "job"])
def test_upload_and_download_print_no_token_whatever_call_fails(sandbox, work, kind):
    token = shapeless_token(sandbox, "developer" if kind == "personal" else "job")
    env = job(sandbox, **{"MLFLOW_GITLAB_TOKEN" if kind == "personal" else "CI_JOB_TOKEN":
                          token})
    calls = probe(sandbox, lambda k: ("upload", "outputs", "--package", "churn",
                                      "--version", f"1.0.{k}"), env, [token], cwd=work)
    assert calls >= 4  # the package's files, each file, the manifest
    complete = f"1.0.{calls}"  # the run that no fault stopped
    calls = probe(sandbox, lambda k: ("download", "--package", "churn", "--version", complete,
                                      "--dest", f"restored-{k}"), env, [token], cwd=work)
    assert calls >= 3


def test_run_prints_no_token_whatever_call_fails(sandbox, work):
    tracking, job_token = shapeless_token(sandbox, "developer"), shapeless_token(sandbox, "job")
    env = job(sandbox, MLFLOW_TRACKING_TOKEN=tracking, CI_JOB_TOKEN=job_token)
    calls = probe(sandbox, lambda k: ("run", "--artifacts", "outputs", "--", sys.executable,
                                      "-c", LOG_A_METRIC), env, [tracking, job_token], cwd=work)
    assert calls >= 6  # the experiment, the runs, the child's metric, the outputs, the end


def test_a_tracking_uri_with_a_token_in_its_userinfo_is_never_printed(sandbox, work):
    token = shapeless_token(sandbox, "developer")
    encoded = "".join(f"%{byte:02X}" for byte in token.encode())  # valid, and unrecognisable
    uri = sandbox.tracking_uri.replace("://", f"://oauth2:{encoded}@")
    env = job(sandbox, MLFLOW_TRACKING_URI=uri, MLFLOW_TRACKING_TOKEN=token)
    for args in (("run", "--", sys.executable, "-c", LOG_A_METRIC),
                 ("release", "--model", "churn", "--metric", "loss"),
                 ("sync", "--spool", "spool")):
        result = mlflow_gitlab(*args, env=env, cwd=work, timeout=120)
        printed = result.stdout + result.stderr
        assert encoded not in printed and token not in printed, printed
        assert "oauth2:" not in printed, printed


def test_sync_prints_no_token_whatever_call_fails(sandbox, api, work):
    token = shapeless_token(sandbox, "developer")
    experiment = api.mlflow("POST", "experiments/create", json={"name": "demo-project"})
    run_id = api.mlflow("POST", "runs/create", json={
        "experiment_id": experiment.json()["experiment_id"]}).json()["run"]["info"]["run_id"]

    def spool(k: int) -> None:
        folder = work / f"spool-{k}"
        folder.mkdir()
        points = [{"key": "loss", "value": 1 / (k + 2), "timestamp": 1000 + k, "step": k}]
        (folder / f"{run_id}.jsonl").write_text(
            json.dumps({"run_id": run_id, "metrics": points}) + "\n")

    env = job(sandbox, MLFLOW_TRACKING_TOKEN=token)
    calls = probe(sandbox, lambda k: ("sync", "--spool", f"spool-{k}"), env, [token],
                  cwd=work, before=spool)
    assert calls >= 2  # the history read back, the batch


def test_release_prints_no_token_whatever_call_fails(sandbox, api, work, tmp_path,
                                                     monkeypatch):
    from tests.api.test_release import Lab

    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", sandbox.tokens["developer"])
    lab = Lab(sandbox, api, tmp_path / "lab")
    tracking = shapeless_token(sandbox, "developer")
    envs, tokens = [], [tracking]

    def pipeline(k: int) -> None:  # each release in a pipeline of its own: the same calls
        made = lab.pipeline()
        lab.train(made, 0.2 + k / 100)
        job_token = shapeless_token(sandbox, made.release_token)
        tokens.append(job_token)
        envs.append({**lab.env(made), "MLFLOW_TRACKING_TOKEN": tracking,
                     "CI_JOB_TOKEN": job_token, "MLFLOW_GITLAB_RETRY_ATTEMPTS": "1"})

    calls = probe(sandbox, lambda k: ("release", "--model", "churn", "--metric", "loss"),
                  lambda k: envs[k], tokens, cwd=work, before=pipeline)
    assert calls >= 5  # candidates, the model, its versions, the files, the record


def test_report_prints_no_token_whatever_call_fails(sandbox, mlflow_client, work):
    from tests.api.test_report import log_runs

    log_runs(mlflow_client, sandbox.pipeline_id, sandbox.job_ids[:2], [0.3, 0.2])
    tracking, gitlab = shapeless_token(sandbox, "developer"), shapeless_token(sandbox,
                                                                             "developer")
    env = job(sandbox, MLFLOW_TRACKING_TOKEN=tracking, MLFLOW_GITLAB_TOKEN=gitlab,
              CI_JOB_TOKEN=shapeless_token(sandbox, "job"))
    calls = probe(sandbox, lambda k: ("report", "--metric", "loss", "--output",
                                      f"report-{k}.md", "--metrics-file", f"metrics-{k}.txt"),
                  env, [tracking, gitlab, env["CI_JOB_TOKEN"]], cwd=work)
    assert calls >= 3  # the runs, the merge request's notes, the note


def test_the_relay_passes_no_token_to_its_client_or_its_output(sandbox, work):
    token = shapeless_token(sandbox, "developer")
    env = job(sandbox, MLFLOW_TRACKING_TOKEN=token)
    needles = Needles([token])
    with standalone_relay(env) as uri:
        for echo, status in ANSWERS:
            sandbox.clear_faults()
            sandbox.inject(status=status, echo=echo)
            answer = requests.post(f"{uri}/api/2.0/mlflow/experiments/create",
                                   json={"name": "leaky"}, timeout=60)
            assert sandbox.fired and answer.status_code == status, answer.text
            assert not needles.found_in(answer.content), needles.mask(answer.text)


def test_context_prints_no_token_of_the_job(sandbox, work):
    token = shapeless_token(sandbox, "job")
    env = job(sandbox, CI_JOB_TOKEN=token, CI_REGISTRY_PASSWORD=token,
              CI_REPOSITORY_URL=f"{sandbox.url}/ml-team/demo-project.git".replace(
                  "://", f"://gitlab-ci-token:{quote(token, safe='')}@"))
    for output_format in ("text", "json", "env", "tags"):
        result = mlflow_gitlab("context", "--format", output_format, env=env, cwd=work)
        assert result.returncode == 0, result.stderr
        assert not Needles([token]).found_in(result.stdout + result.stderr), output_format


# --- tokens that cannot be sent as they are ---------------------------------------------------

REFUSED = [
    ("upload", "MLFLOW_GITLAB_TOKEN", "\n", "has whitespace around the token"),
    ("upload", "CI_JOB_TOKEN", " ", "has whitespace around the token"),
    ("run", "MLFLOW_TRACKING_TOKEN", "\r\n", "has whitespace around the token"),
    ("sync", "MLFLOW_TRACKING_TOKEN", "\n", "has whitespace around the token"),
    ("run", "MLFLOW_TRACKING_TOKEN", "inner space", "holds whitespace, control or non-ASCII"),
    ("upload", "MLFLOW_GITLAB_TOKEN", "\x1b[0m", "holds whitespace, control or non-ASCII"),
]
COMMANDS = {"upload": ("upload", "outputs", "--package", "churn", "--version", "1.0.0"),
            "run": ("run", "--", sys.executable, "-c", "print('never')"),
            "sync": ("sync", "--spool", "spool")}


@pytest.mark.parametrize(("command", "variable", "flaw", "message"), REFUSED,
                         ids=[f"{c}-{v}-{f!r}" for c, v, f, _ in REFUSED])
def test_a_token_that_cannot_be_sent_is_refused_in_one_line_naming_it(
        sandbox, work, command, variable, flaw, message):
    token = shapeless_token(sandbox, "job" if variable == "CI_JOB_TOKEN" else "developer")
    value = (f"{token[:8]}{flaw}{token[8:]}" if flaw.strip() else f"{token}{flaw}")
    (work / "spool").mkdir()
    sandbox.inject(status=500, times=1000)  # any request at all would fire it
    result = mlflow_gitlab(*COMMANDS[command], env=job(sandbox, **{variable: value}),
                           cwd=work, timeout=120)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.splitlines()
    assert lines[0].startswith(f"error: {variable} {message}"), result.stderr
    assert len(lines) == 2 and lines[1].startswith("hint: "), result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""
    assert not Needles([token, value]).found_in(result.stderr)
    assert sandbox.fired == [], "something was sent"


def test_the_echo_fault_repeats_the_request_head(sandbox, api):
    sandbox.inject(status=403, echo="text")
    answer = api.request("GET", "/projects/7/packages", transport="private")
    assert answer.status_code == 403
    assert answer.headers["Content-Type"] == "text/plain"
    assert "GET /api/v4/projects/7/packages HTTP/1.1" in answer.text
    assert f"PRIVATE-TOKEN: {sandbox.tokens['developer']}" in answer.text
    sandbox.inject(status=400, echo="json", skip=1)
    assert api.request("GET", "/projects/7/packages").ok  # skipped
    message = api.request("GET", "/projects/7/packages").json()["message"]
    assert message.startswith("400 Bad Request: request GET /api/v4/projects/7/packages")
    assert f"Authorization: Bearer {sandbox.tokens['developer']}" in message
