"""`mlflow-gitlab run` against the sandbox, in environments as GitLab sets them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tests import ci_envs
from tests.cli import home, mlflow_gitlab, popen, record

TRAIN = textwrap.dedent("""
    import os, sys, mlflow
    with mlflow.start_run():
        mlflow.log_metric("loss", 0.25, step=1)
        mlflow.log_param("from_script", "yes")
    sys.exit(int(os.environ.get("EXIT_CODE", "0")))
""")


@pytest.fixture
def script(tmp_path: Path) -> Path:
    path = tmp_path / "train.py"
    path.write_text(TRAIN)
    return path


def job_env(sandbox, make=ci_envs.merge_request, token: str = "developer", **extra: str):
    """A scrubbed environment: what GitLab sets, pointed at the sandbox."""
    env = make(**extra)
    env.update({
        "PATH": os.environ["PATH"],
        "HOME": home(),
        "CI_SERVER_URL": sandbox.url,
        "CI_API_V4_URL": sandbox.api_url,
        "CI_JOB_TOKEN": sandbox.tokens["job"],
        "MLFLOW_TRACKING_TOKEN": sandbox.tokens.get(token, token),
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
        "CI_PROJECT_NAME": "demo-project",
    })
    return env


def only_job_runs(client, experiment_name="demo-project"):
    experiment = client.get_experiment_by_name(experiment_name)
    runs = client.search_runs([experiment.experiment_id])
    return ([r for r in runs if r.data.tags.get("mlflow-gitlab.role") == "job"],
            [r for r in runs if r.data.tags.get("mlflow-gitlab.role") == "pipeline"])


def test_run_tags_the_run_and_the_script_logs_into_it(sandbox, mlflow_client, script, tmp_path):
    env = job_env(sandbox, ci_envs.matrix)
    result = mlflow_gitlab("run", "--param", "lr=0.1", "--dotenv", str(tmp_path / "run.env"),
                           "--", sys.executable, str(script), env=env)
    assert result.returncode == 0, result.stderr
    (run,), (parent,) = only_job_runs(mlflow_client)
    tags = run.data.tags
    assert tags["gitlab.CI_JOB_ID"] == "5001"
    assert tags["gitlab.CI_PIPELINE_ID"] == "1001"
    assert tags["gitlab.CI_MERGE_REQUEST_IID"] == "1"
    assert tags["gitlab.matrix.LR"] == "0.1"
    assert tags["mlflow.source.type"] == "JOB"
    assert tags["mlflow.user"] == "dev"
    assert tags["mlflow.parentRunId"] == parent.info.run_id
    assert run.info.run_name == "train [LR=0.1, OPTIMIZER=adam]"
    assert run.info.status == "FINISHED"
    # the script's plain mlflow calls landed in the helper's run
    assert run.data.metrics == {"loss": 0.25}
    assert run.data.params == {"lr": "0.1", "from_script": "yes"}
    assert (tmp_path / "run.env").read_text() == (
        f"MLFLOW_RUN_ID={run.info.run_id}\nMLFLOW_EXPERIMENT_ID={run.info.experiment_id}\n")
    assert parent.info.run_name == "pipeline #1"
    assert "gitlab.CI_JOB_ID" not in parent.data.tags


def test_jobs_of_one_pipeline_share_one_parent_run(sandbox, mlflow_client, script):
    for job_id, lr in (("5001", "0.01"), ("5002", "0.1")):
        env = job_env(sandbox, ci_envs.matrix, CI_JOB_ID=job_id, LR=lr,
                      CI_JOB_NAME=f"train: [{lr}, adam]")
        assert mlflow_gitlab("run", "--", sys.executable, str(script), env=env).returncode == 0
    runs, parents = only_job_runs(mlflow_client)
    assert len(runs) == 2 and len(parents) == 1
    assert {r.data.tags["mlflow.parentRunId"] for r in runs} == {parents[0].info.run_id}


def test_concurrent_jobs_agree_on_one_parent(sandbox, mlflow_client, script):
    procs = []
    for job_id, lr in (("5001", "0.01"), ("5002", "0.1")):
        env = job_env(sandbox, ci_envs.matrix, CI_JOB_ID=job_id, LR=lr,
                      CI_JOB_NAME=f"train: [{lr}, adam]")
        args = ("run", "--", sys.executable, str(script))
        procs.append((args, popen(*args, env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE)))
    for args, proc in procs:
        record(args, *proc.communicate(timeout=120))
    assert [proc.returncode for _, proc in procs] == [0, 0]
    runs, parents = only_job_runs(mlflow_client)
    assert len(runs) == 2
    assert len({r.data.tags["mlflow.parentRunId"] for r in runs}) == 1
    assert runs[0].data.tags["mlflow.parentRunId"] in {p.info.run_id for p in parents}


def test_failing_command_fails_the_run_with_its_exit_code(sandbox, mlflow_client, script):
    result = mlflow_gitlab("run", "--", sys.executable, str(script),
                           env=job_env(sandbox, EXIT_CODE="3"))
    assert result.returncode == 3
    (run,), _ = only_job_runs(mlflow_client)
    assert run.info.status == "FAILED"


def test_sigterm_is_forwarded_and_the_run_is_killed(sandbox, mlflow_client, tmp_path):
    marker = tmp_path / "started"
    slow = tmp_path / "slow.py"
    slow.write_text(textwrap.dedent(f"""
        import pathlib, signal, sys, time
        signal.signal(signal.SIGTERM, lambda *a: sys.exit(42))
        pathlib.Path({str(marker)!r}).touch()
        time.sleep(60)
    """))
    args = ("run", "--", sys.executable, str(slow))
    with popen(*args, env=job_env(sandbox), stderr=subprocess.PIPE, text=True) as proc:
        deadline = time.monotonic() + 60
        while not marker.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 42
        record(args, proc.stderr.read())
    (run,), _ = only_job_runs(mlflow_client)
    assert run.info.status == "KILLED"


def test_child_killed_by_a_signal_exits_128_plus_n(sandbox, mlflow_client, tmp_path):
    suicide = tmp_path / "kill9.py"
    suicide.write_text("import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n")
    result = mlflow_gitlab("run", "--", sys.executable, str(suicide), env=job_env(sandbox))
    assert result.returncode == 128 + 9
    (run,), _ = only_job_runs(mlflow_client)
    assert run.info.status == "KILLED"


def test_missing_command_is_one_line_and_creates_no_run(sandbox, mlflow_client):
    result = mlflow_gitlab("run", "--", "no-such-command-xyz", env=job_env(sandbox))
    assert result.returncode == 127
    assert result.stderr.splitlines()[0] == "error: command not found: no-such-command-xyz"
    assert "Traceback" not in result.stderr
    assert mlflow_client.get_experiment_by_name("demo-project") is None


@pytest.mark.parametrize(("token", "message"), [
    ("glpat-this-token-does-not-exist", "rejected MLFLOW_TRACKING_TOKEN (401)"),
    ("read_api", "may not write"),
    ("reporter", "rejected MLFLOW_TRACKING_TOKEN (401)"),  # GitLab: write without role -> 401
    ("non_member", "was not found"),
])
def test_bad_tokens_get_one_clear_line(sandbox, script, token, message):
    result = mlflow_gitlab("run", "--", sys.executable, str(script),
                           env=job_env(sandbox, token=token))
    assert result.returncode == 2, result.stderr
    assert message in result.stderr.splitlines()[0]
    assert "Traceback" not in result.stderr


def test_job_token_as_tracking_token_is_refused_before_any_call(sandbox, script):
    env = job_env(sandbox)
    env["MLFLOW_TRACKING_TOKEN"] = env["CI_JOB_TOKEN"]
    result = mlflow_gitlab("run", "--", sys.executable, str(script), env=env)
    assert result.returncode == 2
    assert "job token" in result.stderr


def test_missing_token_names_the_variable(sandbox, script):
    env = job_env(sandbox)
    del env["MLFLOW_TRACKING_TOKEN"]
    result = mlflow_gitlab("run", "--", sys.executable, str(script), env=env)
    assert result.returncode == 2
    assert "MLFLOW_TRACKING_TOKEN is not set" in result.stderr


def test_unreachable_server_is_one_line(sandbox, script):
    env = job_env(sandbox)
    env["CI_API_V4_URL"] = "http://127.0.0.1:9/api/v4"  # nothing listens on port 9
    env["MLFLOW_GITLAB_RETRY_ATTEMPTS"] = "1"  # no retry lines before the error
    result = mlflow_gitlab("run", "--", sys.executable, str(script), env=env)
    assert result.returncode == 1
    assert result.stderr.splitlines()[0].startswith("error: cannot reach the tracking server")


def test_outside_ci_runs_are_tagged_from_git(sandbox, mlflow_client, script, tmp_path):
    env = {"PATH": os.environ["PATH"], "HOME": home(),
           "MLFLOW_TRACKING_URI": sandbox.tracking_uri,
           "MLFLOW_TRACKING_TOKEN": sandbox.tokens["developer"], "USER": "me"}
    result = mlflow_gitlab("run", "--experiment", "local", "--", sys.executable,
                           str(script), cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    (run,), parents = only_job_runs(mlflow_client, "local")
    assert parents == []
    assert run.data.tags["mlflow.user"] == "me"
    assert "gitlab.CI_JOB_ID" not in run.data.tags


def test_a_job_prints_its_runs_own_page(sandbox, mlflow_client, script):
    result = mlflow_gitlab("run", "--", sys.executable, str(script), env=job_env(sandbox))
    assert result.returncode == 0, result.stderr
    (run,), _ = only_job_runs(mlflow_client)
    iid = run.info.artifact_uri.rstrip("/").split("candidate:")[1].split("/")[0]
    page = f"https://gitlab.example.com/ml-team/demo-project/-/ml/candidates/{iid}"
    assert f"see {page}\n" in result.stderr


def test_outside_ci_the_git_remote_names_the_experiment_and_the_project(
        sandbox, mlflow_client, script, tmp_path):
    """As CI_PROJECT_NAME would in a job: the remote's project `ml-team/demo-project` gives
    the experiment `demo-project`, whatever the folder is called, and the run's page."""
    work = tmp_path / "checkout-of-something"
    work.mkdir()
    git = ["git", "-C", str(work), "-c", "user.name=me", "-c", "user.email=me@example.com"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "remote", "add", "origin",
                    f"{sandbox.url}/ml-team/demo-project.git"], check=True)
    subprocess.run([*git, "commit", "-q", "--allow-empty", "-m", "start"], check=True)
    env = {"PATH": os.environ["PATH"], "HOME": home(),
           "MLFLOW_TRACKING_URI": sandbox.tracking_uri,
           "MLFLOW_TRACKING_TOKEN": sandbox.tokens["developer"], "USER": "me"}
    result = mlflow_gitlab("run", "--", sys.executable, str(script), cwd=work, env=env)
    assert result.returncode == 0, result.stderr
    assert "in experiment 'demo-project'" in result.stderr
    (run,), _ = only_job_runs(mlflow_client, "demo-project")
    iid = run.info.artifact_uri.rstrip("/").split("candidate:")[1].split("/")[0]
    assert f"see {sandbox.url}/ml-team/demo-project/-/ml/candidates/{iid}\n" in result.stderr


def test_works_against_a_plain_mlflow_server(plain_mlflow_server, script):
    from mlflow.tracking import MlflowClient

    env = ci_envs.merge_request(PATH=os.environ["PATH"], HOME=home(),
                                MLFLOW_TRACKING_URI=plain_mlflow_server,
                                CI_PROJECT_NAME="plain-server-project")
    result = mlflow_gitlab("run", "--", sys.executable, str(script), env=env)
    assert result.returncode == 0, result.stderr
    client = MlflowClient(plain_mlflow_server)
    runs, parents = only_job_runs(client, "plain-server-project")
    assert len(runs) == 1 and len(parents) == 1
    assert runs[0].data.tags["gitlab.CI_JOB_ID"] == "5001"
    assert runs[0].data.metrics == {"loss": 0.25}
    assert runs[0].info.status == "FINISHED"


def test_fork_pipeline_without_token_runs_the_command_untracked(sandbox, mlflow_client, tmp_path):
    marker = tmp_path / "ran"
    env = job_env(sandbox, ci_envs.fork_merge_request)
    del env["MLFLOW_TRACKING_TOKEN"]
    result = mlflow_gitlab("run", "--", sys.executable, "-c",
                           f"import pathlib; pathlib.Path({str(marker)!r}).touch()", env=env)
    assert result.returncode == 0, result.stderr
    assert marker.exists()
    assert "running the command without tracking" in result.stderr
    assert mlflow_client.get_experiment_by_name("demo-project") is None


def test_untracked_in_a_fork_plain_mlflow_calls_log_to_a_local_store(sandbox, tmp_path):
    """MLflow 3's default store (`sqlite:`) needs SQLAlchemy, which mlflow-skinny lacks: the
    command gets a local file store instead, in the job's folder."""
    env = job_env(sandbox, ci_envs.fork_merge_request)
    del env["MLFLOW_TRACKING_TOKEN"]
    env.pop("MLFLOW_TRACKING_URI", None)
    code = "import mlflow; mlflow.log_metric('loss', 0.5); print(mlflow.get_tracking_uri())"
    result = mlflow_gitlab("run", "--", sys.executable, "-c", code, env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    store = tmp_path / ".mlflow-gitlab" / "untracked"
    assert result.stdout.strip() == store.as_uri()
    assert any(store.rglob("loss"))  # the metric is in the local store


@pytest.mark.parametrize(("make", "kind", "branch"), [
    (ci_envs.branch, "branch", "main"),
    (ci_envs.tag, "tag", None),
    (ci_envs.schedule, "schedule", "main"),
    (lambda **kw: ci_envs.merge_request("merged_result", **kw), "merged_result",
     "tune-learning-rate"),
    (ci_envs.child, "parent_pipeline", "tune-learning-rate"),
])
def test_each_pipeline_kind_is_tagged(sandbox, mlflow_client, make, kind, branch):
    result = mlflow_gitlab("run", "--", sys.executable, "-c", "pass", env=job_env(sandbox, make))
    assert result.returncode == 0, result.stderr
    (run,), _ = only_job_runs(mlflow_client)
    tags = run.data.tags
    assert tags["gitlab.pipeline_kind"] == kind
    assert tags.get("mlflow.source.git.branch") == branch
    if kind == "merged_result":  # the source head, not GitLab's temporary merge commit
        assert tags["mlflow.source.git.commit"] == ci_envs.SOURCE_SHA


def test_a_job_of_another_gitlab_is_not_linked(sandbox, mlflow_client, script):
    """Tracking from gitlab.example.com's CI to another GitLab: that GitLab has no job of this
    id (it would answer 500 after making the run), so the run is made without the link."""
    env = {**job_env(sandbox), "CI_SERVER_URL": "https://gitlab.example.com",
           "CI_API_V4_URL": "https://gitlab.example.com/api/v4",
           "MLFLOW_TRACKING_URI": sandbox.tracking_uri}
    result = mlflow_gitlab("run", "--", sys.executable, str(script), env=env)
    assert result.returncode == 0, result.stderr
    assert "run not linked to job 5001: the job ran on https://gitlab.example.com" in result.stderr
    (run,), _ = only_job_runs(mlflow_client)
    assert "gitlab.CI_JOB_ID" not in run.data.tags
    assert run.data.tags["gitlab.CI_JOB_URL"].endswith("/-/jobs/5001")
    assert sandbox.app.store.one("SELECT ci_build_id FROM candidates WHERE eid = ?",
                                 run.info.run_id)["ci_build_id"] is None
