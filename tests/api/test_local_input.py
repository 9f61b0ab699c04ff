"""Local input through the CLI, as a job hits it: symlinks in upload folders, names that
downloads refuse, and downloads that fail part-way (`docs/bad-input.md` has the one-liners)."""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path

import pytest

from tests.api.test_packages_cli import env_for
from tests.api.test_run import only_job_runs
from tests.cli import mlflow_gitlab

UPLOAD = ("--package", "churn", "--version", "1.0.0")


@pytest.fixture
def work(tmp_path: Path) -> Path:
    """`outputs/` holding a file, a link to it, and a link to a file outside the folder."""
    work = tmp_path / "job"
    (work / "outputs" / "sub").mkdir(parents=True)
    (work / "outputs" / "model.pkl").write_bytes(b"weights")
    (work / "outputs" / "sub" / "same.pkl").symlink_to("../model.pkl")
    (work / "secret.txt").write_text("the runner's own file")
    return work


def packages(api) -> list[tuple[str, str]]:
    return [(p["name"], p["version"]) for p in api.request("GET", "/projects/7/packages").json()]


def test_a_link_inside_the_folder_is_uploaded_as_its_file(sandbox, api, work, tmp_path):
    result = mlflow_gitlab("upload", "outputs", *UPLOAD, cwd=work, env=env_for(sandbox))
    assert result.returncode == 0, result.stderr
    down = mlflow_gitlab("download", *UPLOAD, "--dest", str(tmp_path / "r"),
                         env=env_for(sandbox))
    assert down.returncode == 0, down.stderr
    assert (tmp_path / "r" / "outputs" / "sub" / "same.pkl").read_bytes() == b"weights"


def test_a_link_out_of_the_folder_is_refused_before_anything_is_sent(sandbox, api, work):
    (work / "outputs" / "leak.txt").symlink_to(work / "secret.txt")
    sandbox.inject("*", r"/packages/", status=500, times=1000)  # nothing may reach GitLab
    result = mlflow_gitlab("upload", "outputs", *UPLOAD, cwd=work, env=env_for(sandbox))
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr.splitlines() == [
        f"error: outputs/leak.txt is a symlink to {work / 'secret.txt'}, outside outputs; "
        "nothing was uploaded",
        "hint: pass --follow-symlinks to upload the file it points to, or remove the link"]
    assert sandbox.fired == []


def test_follow_symlinks_uploads_what_the_link_points_to(sandbox, api, work, tmp_path):
    (work / "outputs" / "leak.txt").symlink_to(work / "secret.txt")
    result = mlflow_gitlab("upload", "outputs", *UPLOAD, "--follow-symlinks", cwd=work,
                           env=env_for(sandbox))
    assert result.returncode == 0, result.stderr
    down = mlflow_gitlab("download", *UPLOAD, "--dest", str(tmp_path / "r"),
                         env=env_for(sandbox))
    assert down.returncode == 0, down.stderr
    assert (tmp_path / "r" / "outputs" / "leak.txt").read_text() == "the runner's own file"


def test_run_artifacts_refuse_a_link_out_of_the_folder_and_fail_the_run(
        sandbox, api, mlflow_client, work):
    (work / "outputs" / "leak.txt").symlink_to(work / "secret.txt")
    result = mlflow_gitlab("run", "--artifacts", "outputs", "--", sys.executable, "-c", "0",
                           cwd=work, env=env_for(sandbox))
    assert result.returncode == 1, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert errors == [f"error: outputs/leak.txt is a symlink to {work / 'secret.txt'}, "
                      "outside outputs; nothing was uploaded"]
    (run,), _ = only_job_runs(mlflow_client)
    assert run.info.status == "FAILED"
    assert packages(api) == []
    again = mlflow_gitlab("run", "--artifacts", "outputs", "--follow-symlinks", "--",
                          sys.executable, "-c", "0", cwd=work, env=env_for(sandbox))
    assert again.returncode == 0, again.stderr


@pytest.mark.parametrize(("name", "problem"), [
    ("a\tb.txt", "it has a control character ('\\t')"),
    ("bell\x07.txt", "it has a control character ('\\x07')"),
    ("back\\slash.txt", "it has a backslash"),
    (os.fsdecode(b"caf\xe9.txt"), "it is not valid UTF-8"),
])
def test_upload_refuses_every_name_download_would_refuse(sandbox, api, work, name, problem):
    (work / "outputs" / name).write_text("x")
    sandbox.inject("*", r"/packages/", status=500, times=1000)
    result = mlflow_gitlab("upload", "outputs", *UPLOAD, cwd=work, env=env_for(sandbox))
    assert result.returncode == 2, result.stderr
    assert result.stderr.splitlines()[0] == (
        f"error: {'outputs/' + name!r} cannot be uploaded: {problem}, and downloads refuse "
        "such a file")
    assert sandbox.fired == []


# --- downloads that fail part-way leave --dest as it was ------------------------------------


def put_package(api, files: dict[str, bytes], listed: dict[str, bytes]) -> None:
    """Package churn 1.0.0 holding `files`, whose manifest lists `listed` (name: bytes)."""
    manifest = {"format": "mlflow-gitlab/manifest", "format_version": 1,
                "package": {"name": "churn", "version": "1.0.0"},
                "files": [{"path": name, "name": name, "size": len(data),
                           "sha256": hashlib.sha256(data).hexdigest()}
                          for name, data in listed.items()]}
    for name, data in {**files, "manifest.json": json.dumps(manifest).encode()}.items():
        r = api.request("PUT", f"/projects/7/packages/generic/churn/1.0.0/{name}", data=data)
        assert r.status_code == 201, r.text


def tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("parallel", ["1", "4"])
def test_a_second_file_failing_its_check_leaves_an_existing_dest_as_it_was(
        sandbox, api, tmp_path, parallel):
    put_package(api, {"a.pkl": b"sound", "b.pkl": b"tampered"},
                {"a.pkl": b"sound", "b.pkl": b"original"})
    dest = tmp_path / "restored"
    dest.mkdir()
    (dest / "a.pkl").write_bytes(b"an older a")
    (dest / "notes.txt").write_text("mine")
    result = mlflow_gitlab("download", *UPLOAD, "--dest", str(dest), "--parallel", parallel,
                           env=env_for(sandbox))
    assert result.returncode == 1
    assert result.stderr.startswith("error: cannot download b.pkl of package churn 1.0.0: ")
    assert tree(dest) == {"a.pkl": b"an older a", "notes.txt": b"mine"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["home", "restored", "sandbox-data"]


def test_a_failed_download_removes_the_dest_it_created(sandbox, api, tmp_path):
    put_package(api, {"a.pkl": b"sound", "b.pkl": b"tampered"},
                {"a.pkl": b"sound", "b.pkl": b"original"})
    result = mlflow_gitlab("download", *UPLOAD, "--dest", str(tmp_path / "new" / "restored"),
                           env=env_for(sandbox))
    assert result.returncode == 1
    assert not (tmp_path / "new").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["home", "sandbox-data"]


def test_a_killed_download_resumes_from_the_files_it_verified(sandbox, api, tmp_path):
    put_package(api, {"a.pkl": b"sound", "b.pkl": b"also sound"},
                {"a.pkl": b"sound", "b.pkl": b"also sound"})
    staging = tmp_path / ".restored.mlflow-gitlab-download"  # what a killed download left
    staging.mkdir()
    (staging / "a.pkl").write_bytes(b"sound")
    sandbox.inject("GET", r"/a\.pkl$", status=404, times=10)  # a.pkl must not be fetched
    result = mlflow_gitlab("download", *UPLOAD, "--dest", str(tmp_path / "restored"),
                           env=env_for(sandbox))
    assert result.returncode == 0, result.stderr
    assert sandbox.fired == []
    assert tree(tmp_path / "restored") == {"a.pkl": b"sound", "b.pkl": b"also sound"}
    assert not staging.exists()


def test_a_file_in_the_place_of_a_folder_stops_the_download_before_it_starts(
        sandbox, api, tmp_path):
    put_package(api, {"a.pkl": b"sound"}, {"a.pkl": b"sound"})
    api.request("PUT", "/projects/7/packages/generic/churn/1.0.0/manifest.json", data=json.dumps({
        "format": "mlflow-gitlab/manifest", "format_version": 1,
        "package": {"name": "churn", "version": "1.0.0"},
        "files": [{"path": "model/a.pkl", "name": "a.pkl", "size": 5,
                   "sha256": hashlib.sha256(b"sound").hexdigest()}]}))
    dest = tmp_path / "restored"
    dest.mkdir()
    (dest / "model").write_text("a file, not a folder")
    result = mlflow_gitlab("download", *UPLOAD, "--dest", str(dest), env=env_for(sandbox))
    assert result.returncode == 1
    assert result.stderr.splitlines()[0] == (
        f"error: cannot download 'model/a.pkl' into {dest}: model is a file there; nothing "
        "was downloaded")
    assert tree(dest) == {"model": b"a file, not a folder"}
