"""Zero-code tagging: with the package installed, plain `mlflow.start_run()` in a job is tagged."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

from tests import ci_envs
from tests.cli import home

SCRIPT = textwrap.dedent("""
    import mlflow
    mlflow.set_experiment("zero-code")
    with mlflow.start_run() as run:
        mlflow.log_metric("accuracy", 0.9)
    print(run.info.run_id)
""")


def run_script(sandbox, env, tmp_path):
    """Run SCRIPT in a job of the sandbox's GitLab (unless `env` names another)."""
    path = tmp_path / "script.py"
    path.write_text(SCRIPT)
    env = {"CI_SERVER_URL": sandbox.url, "CI_API_V4_URL": sandbox.api_url, **env,
           "PATH": os.environ["PATH"], "HOME": home(),
           "MLFLOW_TRACKING_URI": sandbox.tracking_uri,
           "MLFLOW_TRACKING_TOKEN": sandbox.tokens["developer"],
           "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0"}
    result = subprocess.run([sys.executable, str(path)], env=env, capture_output=True,
                            text=True, timeout=120, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    return result.stdout.split()[-1]


def test_plain_start_run_in_a_job_gets_the_ci_tags(sandbox, mlflow_client, tmp_path):
    run_id = run_script(sandbox, ci_envs.merge_request(CI_SERVER_URL=sandbox.url,
                                                       CI_API_V4_URL=sandbox.api_url), tmp_path)
    tags = mlflow_client.get_run(run_id).data.tags
    assert tags["gitlab.CI_JOB_ID"] == "5001"
    assert tags["gitlab.CI_PIPELINE_ID"] == "1001"
    assert tags["gitlab.CI_MERGE_REQUEST_IID"] == "1"
    assert tags["mlflow.source.type"] == "JOB"
    assert tags["mlflow.user"] == "dev"
    assert tags["mlflow.source.git.branch"] == "tune-learning-rate"


def test_outside_gitlab_ci_the_plugin_adds_nothing(sandbox, mlflow_client, tmp_path):
    run_id = run_script(sandbox, {"USER": "me"}, tmp_path)
    tags = mlflow_client.get_run(run_id).data.tags
    assert not any(key.startswith("gitlab.") for key in tags)


def test_a_job_of_another_gitlab_is_not_linked(sandbox, mlflow_client, tmp_path):
    """The job ran on gitlab.example.com, the run goes to another GitLab: without the job
    link (that GitLab has no such job and would answer 500), the run is made and tagged."""
    run_id = run_script(sandbox, ci_envs.merge_request(), tmp_path)
    tags = mlflow_client.get_run(run_id).data.tags
    assert "gitlab.CI_JOB_ID" not in tags
    assert tags["gitlab.CI_JOB_URL"] == "https://gitlab.example.com/ml-team/demo-project/-/jobs/5001"
