"""Helpers for the relay's tests: run `mlflow-gitlab` commands against the sandbox."""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager

from tests import ci_envs
from tests.cli import home, mlflow_gitlab, popen, record


def job_env(sandbox, **extra: str) -> dict[str, str]:
    """A scrubbed merge-request job environment pointed at the sandbox."""
    env = ci_envs.merge_request(**extra)
    env.update({
        "PATH": os.environ["PATH"], "HOME": home(),
        "CI_SERVER_URL": sandbox.url, "CI_API_V4_URL": sandbox.api_url,
        "CI_JOB_TOKEN": sandbox.tokens["job"], "CI_PROJECT_NAME": "demo-project",
        "MLFLOW_TRACKING_TOKEN": sandbox.tokens["developer"],
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
    })
    return env


def run_cli(env: dict[str, str], *args: str, timeout: float = 120,
            **kwargs) -> subprocess.CompletedProcess[str]:
    """`tests.cli.mlflow_gitlab` with `env` first, for older callers; prefer that one."""
    return mlflow_gitlab(*args, env=env, timeout=timeout, **kwargs)


def relay_counts(stderr: str) -> tuple[int, int, int]:
    """(points sent, points taken, requests) from the relay's summary line."""
    match = re.search(r"relay: (\d+) of (\d+) metric point\(s\) sent in (\d+) request", stderr)
    assert match, stderr
    return int(match[1]), int(match[2]), int(match[3])


def job_run(mlflow_client):
    """The run `mlflow-gitlab run` made in the job's experiment (`demo-project`)."""
    experiment = mlflow_client.get_experiment_by_name("demo-project")
    (run,) = [r for r in mlflow_client.search_runs([experiment.experiment_id])
              if r.data.tags.get("mlflow-gitlab.role") == "job"]
    return run


def steps(mlflow_client, run_id: str, key: str = "loss") -> list[int]:
    """The steps of metric `key` the server holds for the run, sorted (repeats kept)."""
    return sorted(p.step for p in mlflow_client.get_metric_history(run_id, key))


@contextmanager
def standalone_relay(env: dict[str, str]) -> Iterator[str]:
    """`mlflow-gitlab relay` in the background; yields the URI it prints."""
    with popen("relay", env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
               text=True) as proc:
        first = ""
        try:
            assert proc.stdout is not None
            first = proc.stdout.readline()
            uri = first.strip()
            assert uri.startswith("http://127.0.0.1:"), proc.stderr.read() if proc.stderr else ""
            yield uri
        finally:
            proc.terminate()
            proc.wait(timeout=60)
            record(("relay",), first, proc.stdout.read(), proc.stderr.read())
