"""A later upload to a package adds to what it holds: `run --artifacts`, then `upload --run`,
then `download --run` and `release` still see the first upload's files."""

from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path

import pytest

from mlflow_gitlab.errors import PackageUploadError
from mlflow_gitlab.packages import download_package, upload_paths
from tests.api.test_packages_cli import TRAIN, env_for
from tests.api.test_release import Lab
from tests.api.test_run import only_job_runs
from tests.cli import mlflow_gitlab


def files_under(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    work = tmp_path / "job"
    (work / "extra").mkdir(parents=True)
    (work / "extra" / "plot.png").write_bytes(b"\x89PNG not really")
    (work / "train.py").write_text(TRAIN)
    return work


def test_upload_after_run_artifacts_keeps_the_run_outputs(sandbox, mlflow_client, workdir,
                                                          tmp_path):
    env = env_for(sandbox)
    run = mlflow_gitlab("run", "--artifacts", "outputs", "--", sys.executable, "train.py",
                        cwd=workdir, env=env)
    assert run.returncode == 0, run.stderr
    (job_run,), _ = only_job_runs(mlflow_client)
    run_id = job_run.info.run_id
    up = mlflow_gitlab("upload", "extra", "--run", run_id, "--json", cwd=workdir, env=env)
    assert up.returncode == 0, up.stderr
    summary = json.loads(up.stdout)
    assert (summary["files"], summary["uploaded"]) == (3, 1)
    down = mlflow_gitlab("download", "--run", run_id, "--dest", str(tmp_path / "r"), env=env)
    assert down.returncode == 0, down.stderr
    assert files_under(tmp_path / "r") == {
        **{f"outputs/{k}": v for k, v in files_under(workdir / "outputs").items()},
        "extra/plot.png": b"\x89PNG not really"}


def test_a_changed_file_is_refused_unless_replace(sandbox, mlflow_client, workdir, tmp_path):
    env = env_for(sandbox)
    run = mlflow_gitlab("run", "--artifacts", "outputs", "--", sys.executable, "train.py",
                        cwd=workdir, env=env)
    assert run.returncode == 0, run.stderr
    (job_run,), _ = only_job_runs(mlflow_client)
    run_id = job_run.info.run_id
    (workdir / "outputs" / "metrics.json").write_text('{"loss": 0.125}')
    refused = mlflow_gitlab("upload", "outputs", "--run", run_id, cwd=workdir, env=env)
    assert refused.returncode != 0
    assert refused.stderr.splitlines()[-2:] == [
        f"error: package ml_experiment_{job_run.info.experiment_id} {run_id} already holds "
        "'outputs/metrics.json' with other content; nothing was uploaded",
        "hint: pass --replace to put this file in its place, or upload it under another name"]
    replaced = mlflow_gitlab("upload", "outputs", "--run", run_id, "--replace", cwd=workdir,
                             env=env)
    assert replaced.returncode == 0, replaced.stderr
    mlflow_gitlab("download", "--run", run_id, "--dest", str(tmp_path / "r"), env=env,
                  check=True)
    assert (tmp_path / "r" / "outputs" / "metrics.json").read_text() == '{"loss": 0.125}'
    assert (tmp_path / "r" / "outputs" / "model" / "weights.bin").exists()


@pytest.fixture
def lab(sandbox, api, tmp_path, monkeypatch) -> Lab:
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", sandbox.tokens["developer"])
    monkeypatch.setenv("MLFLOW_GITLAB_RETRY_ATTEMPTS", "2")
    return Lab(sandbox, api, tmp_path)


def test_release_finds_the_model_after_a_second_upload(sandbox, lab, workdir, tmp_path):
    pipeline = lab.pipeline()
    run_id = lab.train(pipeline, 0.2)  # its outputs package holds outputs/model
    up = mlflow_gitlab("upload", "extra", "--run", run_id, cwd=workdir, env=env_for(sandbox))
    assert up.returncode == 0, up.stderr
    result = lab.release(pipeline)
    assert (result.version, result.created) == ("1.0.0", True)
    assert lab.versions()["1.0.0"]["tags"]["mlflow-gitlab.model_path"] == "outputs/model"


PKG, VERSION = "pkg", "1.0.0"


def test_two_uploads_at_once_are_reported_and_a_rerun_repairs_the_manifest(
        sandbox, tmp_path):
    from tests.api.test_packages_upload import client_for

    client = client_for(sandbox)
    first, second = tmp_path / "first", tmp_path / "second"
    for folder in (first, second):
        folder.mkdir()
        (folder / "data.txt").write_text(folder.name)
    upload_paths(client, PKG, VERSION, [tmp_path / "first"])  # the package exists
    (first / "more.txt").write_text("more")
    # The first upload's manifest is held at the door while the second upload runs whole.
    sandbox.inject("PUT", r"/manifest\.json$", delay=3)
    failures: list[BaseException] = []

    def slow() -> None:
        try:
            upload_paths(client, PKG, VERSION, [first])
        except BaseException as exc:  # checked below
            failures.append(exc)

    thread = threading.Thread(target=slow)
    thread.start()
    while not sandbox.fired:
        time.sleep(0.02)
    upload_paths(client, PKG, VERSION, [second])
    thread.join()
    assert len(failures) == 1 and isinstance(failures[0], PackageUploadError)
    assert "wrote its manifest.json at the same time" in str(failures[0])
    for folder in (first, second):  # as the hint says
        upload_paths(client, PKG, VERSION, [folder])
    download_package(client, PKG, VERSION, tmp_path / "r")
    assert files_under(tmp_path / "r") == {"first/data.txt": b"first",
                                           "first/more.txt": b"more",
                                           "second/data.txt": b"second"}


def test_a_file_where_a_folder_was_is_refused_unless_replace(sandbox, tmp_path):
    from tests.api.test_packages_upload import client_for

    client = client_for(sandbox)
    first, second = tmp_path / "one", tmp_path / "two"
    (first / "model").mkdir(parents=True)
    (first / "model" / "weights.bin").write_bytes(b"weights")
    (first / "notes.txt").write_text("kept")
    second.mkdir()
    (second / "model").write_text("a file now")
    upload_paths(client, PKG, VERSION, [first / "model", first / "notes.txt"])
    with pytest.raises(PackageUploadError, match=r"'model' and 'model/weights\.bin', already "
                                                 r"in package pkg 1\.0\.0, cannot both be"):
        upload_paths(client, PKG, VERSION, [second / "model"])
    upload_paths(client, PKG, VERSION, [second / "model"], replace=True)
    download_package(client, PKG, VERSION, tmp_path / "r")
    assert files_under(tmp_path / "r") == {"model": b"a file now", "notes.txt": b"kept"}


def test_a_new_file_cannot_take_a_stored_file_name(sandbox, tmp_path):
    from mlflow_gitlab.errors import InvalidPackageName
    from tests.api.test_packages_upload import client_for

    client = client_for(sandbox)
    (tmp_path / "a b.txt").write_text("spaces")
    (tmp_path / "later").mkdir()
    (tmp_path / "later" / "a_b.txt").write_text("underscore")
    upload_paths(client, PKG, VERSION, [tmp_path / "a b.txt"])  # stored as a_b.txt
    with pytest.raises(InvalidPackageName, match=r"would be stored as 'a_b\.txt'"):
        upload_paths(client, PKG, VERSION, [tmp_path / "later" / "a_b.txt"])
    download_package(client, PKG, VERSION, tmp_path / "r")
    assert files_under(tmp_path / "r") == {"a b.txt": b"spaces"}
