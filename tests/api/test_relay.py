"""The tracking relay against the sandbox: every point once, through faults, without the token."""

from __future__ import annotations

import json
import os
import sys
import textwrap

import pytest
from mlflow.exceptions import MlflowException

from mlflow_gitlab.http.retry import RetryPolicy
from mlflow_gitlab.relay import Relay, relay_config
from mlflow_gitlab.settings import tracking_settings
from tests.api.relay_env import job_env, relay_counts
from tests.cli import home, mlflow_gitlab
from tests.secrets_scan import allow

TRAIN = textwrap.dedent("""
    import json, os, sys, mlflow
    from pathlib import Path
    Path(sys.argv[1]).write_text(json.dumps(dict(os.environ)))
    with mlflow.start_run():
        for step in range(5000):
            mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
        Path("report.txt").write_text("hello")
        mlflow.log_artifact("report.txt")
        mlflow.log_artifact("report.txt", artifact_path="reports")
        mlflow.log_dict({"lr": 0.1}, "config/params.json")
        print(json.dumps(sorted(a.path for a in mlflow.MlflowClient().list_artifacts(
            mlflow.active_run().info.run_id, "reports"))))
""")


def test_5000_points_arrive_once_through_429_and_503_and_the_child_has_no_token(
        sandbox, mlflow_client, api, tmp_path):
    script, env_dump = tmp_path / "train.py", tmp_path / "env.json"
    script.write_text(TRAIN)
    # env_dump is the child's whole environment: the secrets scan checks it holds no token
    sandbox.inject("POST", r"/runs/log-batch$", status=429, retry_after=1, times=2)
    sandbox.inject("POST", r"/runs/log-batch$", status=503, times=2)
    env = job_env(sandbox, MLFLOW_GITLAB_TOKEN=sandbox.tokens["maintainer"],
                  CI_REGISTRY_PASSWORD=sandbox.tokens["job"])
    result = mlflow_gitlab("run", "--", sys.executable, str(script), str(env_dump),
                           cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    experiment = mlflow_client.get_experiment_by_name("demo-project")
    (run,) = [r for r in mlflow_client.search_runs([experiment.experiment_id])
              if r.data.tags.get("mlflow-gitlab.role") == "job"]
    assert run.info.status == "FINISHED"
    history = mlflow_client.get_metric_history(run.info.run_id, "loss")
    assert sorted(p.step for p in history) == list(range(5000))  # each exactly once
    assert [f["status"] for f in sandbox.fired if "log-batch" in f["path"]] == [429, 429,
                                                                               503, 503]
    sent, taken, requests = relay_counts(result.stderr)
    assert (sent, taken) == (5000, 5000) and requests <= 50  # batches, not 5,000 calls
    child_env = json.loads(env_dump.read_text())
    assert not {"MLFLOW_TRACKING_TOKEN", "MLFLOW_GITLAB_TOKEN", "CI_JOB_TOKEN",
                "CI_REGISTRY_PASSWORD"} & set(child_env)
    assert not any(token in json.dumps(child_env) for token in sandbox.tokens.values())
    assert sandbox.tokens["developer"] not in json.dumps(child_env)
    assert child_env["MLFLOW_TRACKING_URI"].startswith("http://127.0.0.1:")
    # the child listed a folder, which GitLab cannot: the relay rebuilt it
    assert json.loads(result.stdout.splitlines()[-1]) == ["reports/report.txt"]
    # the files are in the run's package, flat, as GitLab lists them
    stored = {a.path for a in mlflow_client.list_artifacts(run.info.run_id)}
    assert stored == {"report.txt", "reports/report.txt", "config/params.json"}
    ref = run.info.artifact_uri.rpartition("/")[2]
    body = api.request("GET", f"/projects/{sandbox.project_id}/packages/ml_models/{ref}/files/"
                              "config/params.json").json()
    assert body == {"lr": 0.1}


def test_without_the_relay_the_command_talks_to_gitlab_with_the_token(sandbox, tmp_path):
    env_dump = tmp_path / "env.json"
    allow(env_dump)  # the child's whole environment, the tracking token included by design
    code = f"import json, os; open({str(env_dump)!r}, 'w').write(json.dumps(dict(os.environ)))"
    env = job_env(sandbox, MLFLOW_GITLAB_TOKEN=sandbox.tokens["maintainer"])
    result = mlflow_gitlab("run", "--no-relay", "--", sys.executable, "-c", code, env=env)
    assert result.returncode == 0, result.stderr
    child_env = json.loads(env_dump.read_text())
    assert child_env["MLFLOW_TRACKING_URI"] == sandbox.tracking_uri
    assert child_env["MLFLOW_TRACKING_TOKEN"] == sandbox.tokens["developer"]
    assert not {"MLFLOW_GITLAB_TOKEN", "CI_JOB_TOKEN"} & set(child_env)  # only what it needs


def test_the_command_keeps_the_job_token_when_asked_to(sandbox, tmp_path):
    env_dump = tmp_path / "env.json"
    allow(env_dump)  # the child's whole environment, the job token included on purpose
    code = f"import json, os; open({str(env_dump)!r}, 'w').write(json.dumps(dict(os.environ)))"
    env = job_env(sandbox, MLFLOW_GITLAB_TOKEN=sandbox.tokens["maintainer"])
    result = mlflow_gitlab("run", "--keep-job-token", "--", sys.executable, "-c", code, env=env)
    assert result.returncode == 0, result.stderr
    child_env = json.loads(env_dump.read_text())
    assert child_env["CI_JOB_TOKEN"] == sandbox.tokens["job"]
    assert not {"MLFLOW_TRACKING_TOKEN", "MLFLOW_GITLAB_TOKEN"} & set(child_env)


@pytest.fixture
def relay(mlflow_env, tmp_path):
    """A relay in this process, with short timeouts so lost answers happen quickly."""
    settings = tracking_settings({"MLFLOW_TRACKING_URI": mlflow_env.tracking_uri,
                                  "MLFLOW_TRACKING_TOKEN": mlflow_env.tokens["developer"]})
    config = relay_config({}, read_timeout=1.0, verify_delay=1.0, spool=tmp_path / "spool",
                          retry=RetryPolicy(attempts=4, budget=20, base=0.1, cap=0.5))
    with Relay(settings, config) as running:
        yield running


@pytest.fixture
def relayed(relay):
    """A stock MlflowClient talking to the relay, and a run to log to."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=relay.uri)
    experiment_id = client.create_experiment("relayed")
    return client, client.create_run(experiment_id).info.run_id


def log_points(client, run_id: str, n: int = 100, only: int | None = None) -> None:
    """Log `n` points of "acc" (or only the first `only` of them)."""
    from mlflow.entities import Metric

    client.log_batch(run_id, metrics=[Metric("acc", i / n, 1_700_000_000_000 + i, i)
                                      for i in range(n if only is None else only)])


def test_a_batch_whose_answer_was_lost_but_was_stored_is_not_sent_again(
        sandbox, relay, relayed, mlflow_client):
    client, run_id = relayed
    # GitLab goes on with a request after its client gave up: answer after the relay's
    # 1 s timeout, store it anyway.
    sandbox.inject("POST", r"/runs/log-batch$", delay=1.5, times=1)
    log_points(client, run_id)
    assert relay.flush(timeout=30)
    history = mlflow_client.get_metric_history(run_id, "acc")
    assert sorted(p.step for p in history) == list(range(100))
    summary = relay.summary()
    assert (summary.sent, summary.checks, summary.requests, summary.unconfirmed) == (
        100, 1, 1, 0)


def test_a_batch_cut_off_mid_body_is_sent_again_once(sandbox, relay, relayed, mlflow_client):
    client, run_id = relayed
    sandbox.inject("POST", r"/runs/log-batch$", drop=True, drop_after=100, times=1)
    log_points(client, run_id)
    assert relay.flush(timeout=30)
    history = mlflow_client.get_metric_history(run_id, "acc")
    assert sorted(p.step for p in history) == list(range(100))
    summary = relay.summary()
    assert (summary.sent, summary.checks, summary.requests) == (100, 1, 2)


def test_reads_see_the_points_logged_before_them(relay, relayed):
    client, run_id = relayed
    for step in range(50):
        client.log_metric(run_id, "loss", 1.0 / (step + 1), step=step)
    assert client.get_run(run_id).data.metrics["loss"] == 1.0 / 50
    assert len(client.get_metric_history(run_id, "loss")) == 50


def test_errors_gitlab_would_give_reach_the_child_at_once(relay, relayed):
    client, run_id = relayed
    client.log_param(run_id, "lr", "0.1")
    with pytest.raises(MlflowException):  # GitLab refuses a param key twice
        client.log_param(run_id, "lr", "0.2")
    with pytest.raises(MlflowException, match="250 characters"):
        client.log_metric(run_id, "k" * 251, 1.0)
    with pytest.raises(MlflowException, match="RESOURCE_DOES_NOT_EXIST"):
        client.log_metric("00000000-0000-4000-8000-000000000000", "loss", 1.0)


def test_points_gitlab_does_not_take_in_time_are_kept_then_synced_once(
        sandbox, relay, relayed, mlflow_client, tmp_path):
    client, run_id = relayed
    sandbox.inject("POST", r"/runs/log-batch$", status=503, times=10)
    log_points(client, run_id, 30)
    assert relay.flush(timeout=60)
    summary = relay.summary()
    assert (summary.sent, summary.unsent) == (0, 30)
    (spooled,) = (tmp_path / "spool").glob("*.jsonl")
    assert len(json.loads(spooled.read_text())["metrics"]) == 30
    assert mlflow_client.get_metric_history(run_id, "acc") == []
    sandbox.clear_faults()
    log_points(mlflow_client, run_id, 30, only=10)  # as if an earlier sync was cut short
    env = {"PATH": os.environ["PATH"], "HOME": home(),
           "MLFLOW_TRACKING_URI": sandbox.tracking_uri,
           "MLFLOW_TRACKING_TOKEN": sandbox.tokens["developer"]}
    result = mlflow_gitlab("sync", "--spool", str(tmp_path / "spool"), env=env)
    assert result.returncode == 0, result.stderr
    assert "30 point(s) in 1 file(s): 20 sent, 10 already stored, 0 left" in result.stderr
    assert sorted(p.step for p in mlflow_client.get_metric_history(run_id, "acc")) == list(
        range(30))
    assert not spooled.exists()
