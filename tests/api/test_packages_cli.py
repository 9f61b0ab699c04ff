"""`mlflow-gitlab upload`, `download` and `run --artifacts` as a CI job runs them."""

from __future__ import annotations

import filecmp
import json
import os
import sys
import textwrap
from pathlib import Path

import pytest

from tests.api.test_run import job_env, only_job_runs
from tests.cli import home, mlflow_gitlab

TRAIN = textwrap.dedent("""
    import os, pathlib, sys
    out = pathlib.Path("outputs")
    (out / "model").mkdir(parents=True, exist_ok=True)
    (out / "model" / "weights.bin").write_bytes(bytes(range(256)) * 1000)
    (out / "metrics.json").write_text('{"loss": 0.25}')
    sys.exit(int(os.environ.get("EXIT_CODE", "0")))
""")


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    work = tmp_path / "job"
    (work / "outputs" / "sub").mkdir(parents=True)
    (work / "outputs" / "sub" / "a b.txt").write_text("spaces are mapped\n")
    (work / "outputs" / "weights.bin").write_bytes(os.urandom(200_000))
    (work / "train.py").write_text(TRAIN)
    return work


def env_for(sandbox, **extra: str) -> dict[str, str]:
    return {**job_env(sandbox), "MLFLOW_GITLAB_RETRY_ATTEMPTS": "2", **extra}


def same_files(a: Path, b: Path) -> bool:
    names = sorted(p.relative_to(a).as_posix() for p in a.rglob("*") if p.is_file())
    return names == sorted(p.relative_to(b).as_posix() for p in b.rglob("*") if p.is_file()) \
        and all(filecmp.cmp(a / n, b / n, shallow=False) for n in names)


def test_upload_then_download_by_name(sandbox, workdir, tmp_path):
    env = env_for(sandbox, MLFLOW_GITLAB_MAX_FILE_SIZE="64KiB")
    up = mlflow_gitlab("upload", "outputs", "--package", "my-model", "--version", "1.0.0",
                       cwd=workdir, env=env)
    assert up.returncode == 0, up.stderr
    assert up.stdout == (f"{sandbox.api_url}/projects/7/packages/generic/my-model/1.0.0/"
                         "manifest.json\n")
    assert "uploaded 2/2 outputs/weights.bin" in up.stderr
    down = mlflow_gitlab("download", "--package", "my-model", "--version", "1.0.0",
                         "--dest", str(tmp_path / "restored"), "--json", env=env)
    assert down.returncode == 0, down.stderr
    summary = json.loads(down.stdout)
    assert (summary["files"], summary["downloaded"], summary["kept"]) == (2, 2, 0)
    assert same_files(workdir / "outputs", tmp_path / "restored" / "outputs")


def test_upload_to_a_run_tags_it_and_download_finds_it(sandbox, mlflow_client, workdir,
                                                       tmp_path):
    experiment_id = mlflow_client.create_experiment("demo-project")
    run_id = mlflow_client.create_run(experiment_id).info.run_id
    env = env_for(sandbox)
    for attempt in range(2):  # the second run finds everything stored and tagged
        up = mlflow_gitlab("upload", "outputs", "--run", run_id, "--json", cwd=workdir, env=env)
        assert up.returncode == 0, up.stderr
        summary = json.loads(up.stdout)
        assert (summary["package"], summary["version"]) == (f"ml_experiment_{experiment_id}",
                                                            run_id)
        assert (summary["uploaded"], summary["skipped"]) == ((2, 0) if attempt == 0 else (0, 2))
    tags = mlflow_client.get_run(run_id).data.tags
    assert tags["mlflow-gitlab.package.name"] == f"ml_experiment_{experiment_id}"
    assert tags["mlflow-gitlab.package.version"] == run_id
    assert tags["mlflow-gitlab.package.url"] == summary["manifest_url"]
    down = mlflow_gitlab("download", "--run", run_id, "--dest", str(tmp_path / "r"), env=env)
    assert down.returncode == 0, down.stderr
    assert down.stdout.strip() == str(tmp_path / "r")
    assert same_files(workdir / "outputs", tmp_path / "r" / "outputs")


def test_run_uploads_artifacts_through_faults_and_tags_the_run(sandbox, mlflow_client,
                                                               workdir, tmp_path):
    sandbox.inject("PUT", r"weights\.bin", status=503)
    sandbox.inject("PUT", r"metrics\.json", drop=True, drop_after=4)
    result = mlflow_gitlab("run", "--artifacts", "outputs/model",
                           "--artifacts", "outputs/metrics.json", "--", sys.executable,
                           "train.py", cwd=workdir, env=env_for(sandbox))
    assert result.returncode == 0, result.stderr
    assert len(sandbox.fired) == 2
    (run,), _ = only_job_runs(mlflow_client)
    assert run.info.status == "FINISHED"
    assert run.data.tags["mlflow-gitlab.package.version"] == run.info.run_id
    down = mlflow_gitlab("download", "--run", run.info.run_id, "--dest",
                         str(tmp_path / "r"), env=env_for(sandbox))
    assert down.returncode == 0, down.stderr
    assert (tmp_path / "r" / "model" / "weights.bin").read_bytes() == bytes(range(256)) * 1000
    assert (tmp_path / "r" / "metrics.json").read_text() == '{"loss": 0.25}'


def test_a_failed_upload_fails_the_run_with_one_line(sandbox, mlflow_client, workdir):
    sandbox.inject("PUT", r"weights\.bin", status=500, times=100)
    result = mlflow_gitlab("run", "--artifacts", "outputs", "--",
                           sys.executable, "train.py", cwd=workdir, env=env_for(sandbox))
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert errors and "weights.bin failed after 2 attempt(s)" in errors[0]
    assert "Traceback" not in result.stderr
    (run,), _ = only_job_runs(mlflow_client)
    assert run.info.status == "FAILED"


def test_a_missing_artifact_path_fails_the_run(sandbox, mlflow_client, workdir):
    result = mlflow_gitlab("run", "--artifacts", "nowhere", "--",
                           sys.executable, "train.py", cwd=workdir, env=env_for(sandbox))
    assert result.returncode == 1
    assert "error: artifact path nowhere does not exist" in result.stderr
    (run,), _ = only_job_runs(mlflow_client)
    assert run.info.status == "FAILED"


def test_a_failing_command_keeps_its_exit_code_and_still_uploads(sandbox, mlflow_client,
                                                                 workdir):
    result = mlflow_gitlab("run", "--artifacts", "outputs",
                           "--artifacts", "nowhere", "--", sys.executable, "train.py",
                           cwd=workdir, env=env_for(sandbox, EXIT_CODE="3"))
    assert result.returncode == 3, result.stderr
    (run,), _ = only_job_runs(mlflow_client)
    assert run.info.status == "FAILED"
    assert "mlflow-gitlab.package.url" in run.data.tags  # what exists helps to debug


def test_without_gitlab_artifacts_are_skipped_with_a_note(workdir, plain_mlflow_server):
    """Plain MLflow and no GitLab settings: the run works, the upload is skipped with one
    line."""
    env = {"PATH": os.environ["PATH"], "HOME": home(),
           "MLFLOW_TRACKING_URI": plain_mlflow_server}
    result = mlflow_gitlab("run", "--experiment", "local", "--artifacts", "outputs", "--",
                           sys.executable, "train.py", cwd=workdir, env=env)
    assert result.returncode == 0, result.stderr
    notes = [line for line in result.stderr.splitlines() if "artifacts not uploaded" in line]
    assert len(notes) == 1 and "no GitLab configured" in notes[0]


@pytest.mark.parametrize(("args", "message"), [
    (("--package", "my model", "--version", "1.0.0"),
     "error: package name 'my model' is not valid on GitLab"),
    (("--package", "m", "--version", "1..0"),
     "error: package version '1..0' is not valid on GitLab"),
    ((), "error: give either --package and --version, or --run"),
    (("--package", "m"), "error: give either --package and --version, or --run"),
])
def test_bad_targets_are_usage_errors_before_any_request(sandbox, workdir, args, message):
    sandbox.inject("*", ".*", status=500, times=1000)
    result = mlflow_gitlab("upload", "outputs", *args, cwd=workdir, env=env_for(sandbox))
    assert result.returncode == 2
    assert result.stderr.splitlines()[0] == message
    assert sandbox.fired == []


def test_missing_gitlab_settings_name_the_variable(workdir):
    env = {"PATH": os.environ["PATH"], "HOME": home()}
    result = mlflow_gitlab("upload", "outputs", "--package", "m", "--version", "1",
                           cwd=workdir, env=env)
    assert result.returncode == 2
    assert "MLFLOW_GITLAB_URL is not set" in result.stderr


def test_downloading_an_incomplete_upload_says_so(sandbox, tmp_path):
    result = mlflow_gitlab("download", "--package", "m", "--version", "1",
                           "--dest", str(tmp_path / "d"), env=env_for(sandbox))
    assert result.returncode == 1
    assert result.stderr.splitlines()[0] == "error: package m 1 has no manifest.json"
    assert not (tmp_path / "d").exists()


def test_the_job_token_is_used_in_a_job(sandbox, workdir):
    env = env_for(sandbox, MLFLOW_TRACKING_TOKEN="glpat-not-a-valid-token-000000")
    result = mlflow_gitlab("upload", "outputs", "--package", "m", "--version", "1",
                           cwd=workdir, env=env)
    assert result.returncode == 0, result.stderr


@pytest.mark.slow
def test_a_large_single_file_shows_progress_lines_in_a_ci_log(sandbox, tmp_path):
    """stderr is a pipe, as in a CI job: while one file is stalled for longer than the log
    interval, a plain `uploading: N%` line shows it is moving, with no carriage return."""
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(48 << 20))  # more than the loopback buffers hold
    sandbox.inject("PUT", r"big\.bin", delay=6)
    up = mlflow_gitlab("upload", str(big), "--package", "large", "--version", "1.0.0",
                       cwd=tmp_path, env=env_for(sandbox))
    assert up.returncode == 0, up.stderr
    assert "\r" not in up.stderr
    lines = [line for line in up.stderr.splitlines() if "uploading: " in line]
    assert lines, up.stderr
    assert all(" of 48.0 MiB" in line and "%" in line for line in lines)
