"""The relay's child environment and its answers to MLflow's batched (async) logging."""

from __future__ import annotations

import json
import sys
import textwrap
import time
from urllib.parse import urlsplit

import pytest
import requests
from mlflow.entities import Metric, Param
from mlflow.exceptions import MlflowException

from mlflow_gitlab.relay import Relay, relay_config
from mlflow_gitlab.settings import tracking_settings
from tests.api.relay_env import job_env, relay_counts
from tests.cli import mlflow_gitlab

DUMP_ENV = ("Path(sys.argv[1]).write_text(json.dumps({k: v for k, v in os.environ.items() "
            "if k.startswith('MLFLOW_') and 'TOKEN' not in k}))")
# Never ends its run and exits non-zero: every point must still arrive, once.
PER_CALL = textwrap.dedent(f"""
    import json, os, sys, mlflow
    from pathlib import Path
    {DUMP_ENV}
    for step in range(1000):
        mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
    sys.exit(3)
""")
# Opted in to MLflow's async logging: its queue merges the over-long param (GitLab's limit
# is 250) into a batch with other calls' points.
ASYNC = textwrap.dedent(f"""
    import json, os, sys, mlflow
    from pathlib import Path
    {DUMP_ENV}
    with mlflow.start_run():
        for step in range(3000):
            mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
            if step == 1500:
                mlflow.log_param("features", "x" * 300)
""")


def only_job_run(client):
    experiment = client.get_experiment_by_name("demo-project")
    (run,) = [r for r in client.search_runs([experiment.experiment_id])
              if r.data.tags.get("mlflow-gitlab.role") == "job"]
    return run


def run_script(sandbox, tmp_path, code: str, **env: str):
    script, env_dump = tmp_path / "train.py", tmp_path / "env.json"
    script.write_text(code)
    result = mlflow_gitlab("run", "--", sys.executable, str(script), str(env_dump),
                           env=job_env(sandbox, **env), cwd=tmp_path)
    return result, json.loads(env_dump.read_text())


def test_points_logged_per_call_arrive_once_when_the_command_exits_without_ending_its_run(
        sandbox, mlflow_client, tmp_path):
    sandbox.inject("POST", r"/runs/log-batch$", status=429, retry_after=1, times=1)
    sandbox.inject("POST", r"/runs/log-batch$", status=503, times=1)
    result, child_env = run_script(sandbox, tmp_path, PER_CALL)
    assert result.returncode == 3, result.stderr
    assert "MLFLOW_ENABLE_ASYNC_LOGGING" not in child_env  # synchronous unless asked
    assert child_env["MLFLOW_REGISTRY_URI"] == child_env["MLFLOW_TRACKING_URI"]
    run = only_job_run(mlflow_client)
    assert run.info.status == "FAILED"
    history = mlflow_client.get_metric_history(run.info.run_id, "loss")
    assert sorted(p.step for p in history) == list(range(1000))


def test_async_logging_turned_on_is_batched_and_a_refused_param_keeps_its_batchs_points(
        sandbox, mlflow_client, tmp_path):
    sandbox.inject("POST", r"/runs/log-batch$", status=429, retry_after=1, times=1)
    sandbox.inject("POST", r"/runs/log-batch$", status=503, times=1)
    result, child_env = run_script(sandbox, tmp_path, ASYNC, MLFLOW_ENABLE_ASYNC_LOGGING="true")
    assert result.returncode == 0, result.stderr
    assert child_env["MLFLOW_ASYNC_LOGGING_BUFFERING_SECONDS"] == "1"
    assert "end its runs" in result.stderr
    run = only_job_run(mlflow_client)
    history = mlflow_client.get_metric_history(run.info.run_id, "loss")
    assert sorted(p.step for p in history) == list(range(3000))  # each exactly once
    assert "features" not in run.data.params
    sent, taken, requests_made = relay_counts(result.stderr)
    assert (sent, taken) == (3000, 3000) and requests_made <= 20


def test_a_jobs_http_proxy_is_not_asked_to_reach_the_relay(sandbox, mlflow_client, tmp_path):
    port = urlsplit(sandbox.url).port
    code = "import mlflow, sys\nmlflow.log_metric('loss', 0.5)\n"
    (tmp_path / "train.py").write_text(code)
    env = job_env(sandbox, HTTP_PROXY="http://127.0.0.1:9", NO_PROXY=f"localhost:{port}",
                  MLFLOW_TRACKING_URI=sandbox.tracking_uri.replace("127.0.0.1", "localhost"))
    result = mlflow_gitlab("run", "--", sys.executable, "train.py", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    run = only_job_run(mlflow_client)
    assert run.data.metrics == {"loss": 0.5}


@pytest.fixture
def small_relay(mlflow_env, tmp_path):
    """A relay in this process that holds 5 points and waits 0.3 s for room."""
    settings = tracking_settings({"MLFLOW_TRACKING_URI": mlflow_env.tracking_uri,
                                  "MLFLOW_TRACKING_TOKEN": mlflow_env.tokens["developer"]})
    config = relay_config({}, linger=0.0, queue_limit=5, queue_wait=0.3,
                          spool=tmp_path / "spool")
    with Relay(settings, config) as running:
        yield running


@pytest.fixture
def relayed_run(small_relay, mlflow_client):
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=small_relay.uri)
    return client, client.create_run(mlflow_client.create_experiment("relayed")).info.run_id


def test_a_full_queue_answers_503_and_queues_nothing_so_a_retry_is_stored_once(
        sandbox, small_relay, relayed_run, mlflow_client):
    _, run_id = relayed_run
    url = f"{small_relay.uri}/api/2.0/mlflow/runs/log-batch"

    def post(first: int) -> requests.Response:
        return requests.post(url, timeout=30, json={"run_id": run_id, "metrics": [
            {"key": "acc", "value": i, "timestamp": 1_700_000_000_000 + i, "step": i}
            for i in range(first, first + 5)]})

    sandbox.inject("POST", r"/runs/log-batch$", delay=1.5, times=1)  # a slow GitLab
    assert post(0).status_code == 200
    deadline = time.monotonic() + 10
    while small_relay.queue.snapshot().pending and time.monotonic() < deadline:
        time.sleep(0.02)  # the relay took those 5 and waits for GitLab
    assert post(5).status_code == 200  # the queue is full now
    refused = post(10)
    assert refused.status_code == 503 and refused.headers["Retry-After"] == "5"
    assert small_relay.queue.snapshot().queued == 10
    assert small_relay.flush(timeout=30)
    assert post(10).status_code == 200  # the client's retry
    assert small_relay.flush(timeout=30)
    history = mlflow_client.get_metric_history(run_id, "acc")
    assert sorted(p.step for p in history) == list(range(15))


def test_a_batch_whose_param_gitlab_refuses_still_logs_its_points_and_says_so(
        small_relay, relayed_run, mlflow_client):
    client, run_id = relayed_run
    with pytest.raises(MlflowException, match=r"the batch's 3 metric point\(s\) were logged"):
        client.log_batch(run_id, metrics=[Metric("acc", i, 1_700_000_000_000 + i, i)
                                          for i in range(3)],
                         params=[Param("features", "x" * 300)])
    assert small_relay.flush(timeout=30)
    assert len(mlflow_client.get_metric_history(run_id, "acc")) == 3
    assert "features" not in mlflow_client.get_run(run_id).data.params
