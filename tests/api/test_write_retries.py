"""Every write of the helper survives 429, 503, a 500 after the server stored it and a lost
answer, and still makes exactly one run, one model version, one note; odd answers end in one
line.

The sandbox's faults stand for GitLab's: a 429 or 503 answered before the request is handled,
and a request handled, then answered 500 or cut off (`processed=True`).
"""

from __future__ import annotations

import sys

import pytest

from tests.api.relay_env import job_env
from tests.api.test_release import Lab
from tests.api.test_report import job_env as report_env
from tests.api.test_report import log_runs, marker_notes, report
from tests.cli import mlflow_gitlab

FAULTS = {
    "503": {"status": 503},
    "429": {"status": 429, "retry_after": 0},
    "500 after it was stored": {"status": 500, "processed": True},
    "answer lost after it was stored": {"drop": True, "processed": True},
}
# The helper's own writes in a tracked job, and how often each is sent when all goes well.
RUN_WRITES = {
    r"/experiments/create$": 1,
    r"/runs/create$": 2,  # the pipeline's parent run, then the job's
    r"/runs/log-batch$": 1,  # the --param values
    r"/runs/update$": 2,  # the job's run ends, then its parent's
}
QUIET = [sys.executable, "-c", "pass"]  # the command logs nothing: every write is the helper's


def env_for(sandbox, **extra: str) -> dict[str, str]:
    return job_env(sandbox, MLFLOW_GITLAB_RETRY_ATTEMPTS="4", **extra)


def runs_by_role(mlflow_client) -> dict[str, list]:
    experiment = mlflow_client.get_experiment_by_name("demo-project")
    roles: dict[str, list] = {}
    for run in mlflow_client.search_runs([experiment.experiment_id]) if experiment else []:
        roles.setdefault(run.data.tags.get("mlflow-gitlab.role", ""), []).append(run)
    return roles


def fired_on(sandbox, route: str) -> int:
    import re

    return sum(1 for f in sandbox.fired if re.search(route, str(f["path"])))


def assert_found_again(stderr: str, fault: str, times: int) -> None:
    """After a fault that stored the create, what it made was found, not made again."""
    expected = times if FAULTS[fault].get("processed") else 0
    assert stderr.count("an earlier attempt had made it; not sent again") == expected, stderr


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("error:")]


@pytest.mark.parametrize("fault", FAULTS)
def test_a_tracked_job_survives_a_fault_on_every_write(sandbox, mlflow_client, fault):
    for route, times in RUN_WRITES.items():
        sandbox.inject("POST", route, times=times, **FAULTS[fault])
    result = mlflow_gitlab("run", "--param", "lr=0.1", "--", *QUIET, env=env_for(sandbox))
    assert result.returncode == 0, result.stderr
    assert sandbox.app.faults.pending() == []
    for route, times in RUN_WRITES.items():
        assert fired_on(sandbox, route) == times, route
    roles = runs_by_role(mlflow_client)
    assert set(roles) == {"job", "pipeline"}
    (job,), (parent,) = roles["job"], roles["pipeline"]  # exactly one of each
    assert (job.info.status, parent.info.status) == ("FINISHED", "FINISHED")
    assert job.data.params == {"lr": "0.1"}
    assert job.data.tags["mlflow.parentRunId"] == parent.info.run_id
    assert len(sandbox.app.store.all("SELECT id FROM candidates")) == 2  # nothing half-made
    assert_found_again(result.stderr, fault, times=2)


@pytest.mark.parametrize("fault", FAULTS)
def test_a_release_survives_a_fault_on_every_write(sandbox, api, tmp_path, fault):
    lab = Lab(sandbox, api, tmp_path)
    pipeline = lab.pipeline()
    lab.train(pipeline, 0.2)
    writes = {r"/registered-models/create$": "POST", r"/model-versions/create$": "POST",
              r"/model-versions/update$": "PATCH"}
    for route, method in writes.items():
        sandbox.inject(method, route, **FAULTS[fault])
    result = lab.cli(pipeline, "--metric", "loss", MLFLOW_GITLAB_RETRY_ATTEMPTS="4")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "1.0.0\n"
    assert sandbox.app.faults.pending() == []
    versions = lab.versions()
    assert set(versions) == {"1.0.0"}  # one version, not a second one after the fault
    assert versions["1.0.0"]["description"].startswith("Released from run")
    assert len(sandbox.app.store.all("SELECT id FROM model_versions")) == 1
    assert_found_again(result.stderr, fault, times=1)


@pytest.mark.parametrize("fault", FAULTS)
def test_a_report_survives_a_fault_on_its_note(sandbox, api, mlflow_client, tmp_path, fault):
    log_runs(mlflow_client, 1001, [5001, 5002], [0.3, 0.2])
    sandbox.inject("POST", r"/merge_requests/1/notes$", **FAULTS[fault])
    result = report(report_env(sandbox, tmp_path, MLFLOW_GITLAB_RETRY_ATTEMPTS="4"), tmp_path,
                    "--metric", "loss")
    assert result.returncode == 0, result.stderr
    assert sandbox.app.faults.pending() == []
    (note,) = marker_notes(api)  # exactly one note
    assert f"#note_{note['id']}" in result.stderr
    assert_found_again(result.stderr, fault, times=1)


def test_runs_create_answered_with_an_empty_object_is_one_line(sandbox, mlflow_client):
    sandbox.inject("POST", r"/runs/create$", status=200, body={}, times=10)
    result = mlflow_gitlab("run", "--", *QUIET, env=env_for(sandbox))
    assert result.returncode == 1, result.stderr
    (line,) = error_lines(result.stderr)
    assert line == (f"error: unexpected answer from {sandbox.url.split('//')[1]} to POST "
                    "runs/create: an object without 'run.info.run_id' starting \"{}\"")
    assert "Traceback" not in result.stderr
    assert "FINISHED" not in result.stderr
    sandbox.clear_faults()
    assert runs_by_role(mlflow_client) == {}  # nothing was made, nothing is reported


def test_a_server_answering_an_empty_object_to_everything_is_one_line(sandbox, mlflow_client):
    sandbox.inject("*", r"/ml/mlflow/", status=200, body={}, times=1000)
    result = mlflow_gitlab("run", "--", *QUIET, env=env_for(sandbox))
    assert result.returncode == 1, result.stderr
    (line,) = error_lines(result.stderr)
    assert ("to GET experiments/get-by-name: an object without 'experiment.experiment_id'"
            in line)
    assert "Traceback" not in result.stderr
    sandbox.clear_faults()
    assert mlflow_client.get_experiment_by_name("demo-project") is None


def test_a_run_gitlab_keeps_half_made_is_deleted(sandbox, mlflow_client):
    """GitLab makes the run, then fails on its tags (here a job id it does not know) with a
    500, keeping the run without tags: the helper deletes it and says what is wrong at once,
    instead of retrying and blaming the network."""
    sandbox.inject("POST", r"/runs/create$", delay=0.001, times=100)  # counts the creates
    result = mlflow_gitlab("run", "--", *QUIET,
                           env=job_env(sandbox, CI_JOB_ID="999999",
                                       MLFLOW_GITLAB_RETRY_ATTEMPTS="6"))
    assert result.returncode == 2, result.stderr
    (line,) = error_lines(result.stderr)
    assert "has no CI job 999999 to link the run to (CI_JOB_ID)" in line
    assert "kept failing" not in result.stderr
    assert len(sandbox.fired) == 2  # the parent run's create, then the job run's, once
    roles = runs_by_role(mlflow_client)
    assert set(roles) == {"pipeline"}  # the parent run, made before; no job run, whole or not
    assert len(sandbox.app.store.all("SELECT id FROM candidates")) == 1

