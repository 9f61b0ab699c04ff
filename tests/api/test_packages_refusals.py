"""`mlflow-gitlab upload` against GitLab's refusals: Workhorse's size limit (413, and 500 on
older GitLab), and a group that does not allow duplicate generic packages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlflow_gitlab.sandbox import Settings
from tests.api.test_packages_cli import env_for
from tests.cli import mlflow_gitlab

LIMIT = 1024
TARGET = ("--package", "pkg", "--version", "1.0.0")
SIZE_HINT = ("hint: the instance setting generic_packages_max_file_size is below this file: "
             "set MLFLOW_GITLAB_MAX_FILE_SIZE (--max-file-size) to it, and larger files are "
             "split into parts")


@pytest.fixture
def sandbox_settings() -> Settings:
    return Settings(generic_max_file_size=LIMIT)


@pytest.fixture
def work(tmp_path: Path) -> Path:
    (tmp_path / "big.bin").write_bytes(b"b" * 2000)
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "a.txt").write_text("first file\n")
    (tmp_path / "out" / "b.txt").write_text("second file\n")
    (tmp_path / "notes.txt").write_text("added later\n")
    return tmp_path


def upload(sandbox, work: Path, *args: str, **env: str):
    return mlflow_gitlab("upload", *args, *TARGET, cwd=work, env=env_for(sandbox, **env))


def last_lines(result, n: int = 2) -> list[str]:
    return result.stderr.splitlines()[-n:]


def download(sandbox, dest: Path) -> dict[str, bytes]:
    result = mlflow_gitlab("download", *TARGET, "--dest", str(dest), env=env_for(sandbox))
    assert result.returncode == 0, result.stderr
    return {p.relative_to(dest).as_posix(): p.read_bytes()
            for p in sorted(dest.rglob("*")) if p.is_file()}


# --- the instance's size limit --------------------------------------------------------------


def test_a_content_length_over_the_limit_is_413_and_explained_at_once(sandbox, work):
    sandbox.inject("PUT", r"big\.bin", delay=0.01, times=5)  # counts the attempts
    result = upload(sandbox, work, "big.bin", "--max-file-size", "0")
    assert result.returncode == 1
    assert last_lines(result) == [
        "error: cannot upload big.bin to package pkg 1.0.0: GitLab refuses the file as too "
        f"large (2000 bytes, over GitLab's limit of {LIMIT} bytes)", SIZE_HINT]
    assert len(sandbox.fired) == 1  # not retried


def test_a_stream_past_the_limit_is_413_too(sandbox, work):
    sandbox.inject("PUT", r"big\.bin", status=413, content_type="text/plain; charset=utf-8",
                   body="RequestBody: upload failed: entity is too large\n")
    result = upload(sandbox, work, "big.bin", "--max-file-size", "4KiB")
    assert result.returncode == 1
    assert last_lines(result) == [
        "error: cannot upload big.bin to package pkg 1.0.0: GitLab refuses the file as too "
        "large (2000 bytes)", SIZE_HINT]


def test_older_gitlab_answers_500_and_the_error_names_the_setting(sandbox, work):
    sandbox.app.settings.workhorse_length_status = 500
    result = upload(sandbox, work, "big.bin", "--max-file-size", "4KiB")
    assert result.returncode == 1
    error, hint = last_lines(result)
    assert error.startswith("error: PUT ") and "failed after 2 attempt(s)" in error
    assert "500 Internal Server Error" in error
    assert hint.startswith("hint: if the file is over the instance's limit, older GitLab "
                           "versions answer 500: the instance setting "
                           "generic_packages_max_file_size")


def test_split_below_the_limit_the_file_goes_up(sandbox, work, tmp_path):
    sandbox.app.settings.workhorse_length_status = 500
    result = upload(sandbox, work, "big.bin", "--max-file-size", str(LIMIT))
    assert result.returncode == 0, result.stderr
    assert download(sandbox, tmp_path / "r") == {"big.bin": b"b" * 2000}


# --- duplicates not allowed -----------------------------------------------------------------


@pytest.fixture
def no_duplicates(sandbox):
    sandbox.app.settings.generic_duplicates = False
    return sandbox


def test_resume_sends_only_what_is_missing(no_duplicates, work, tmp_path):
    sandbox = no_duplicates
    sandbox.inject("PUT", r"b\.txt", status=503, times=100)
    failed = upload(sandbox, work, "out")
    assert failed.returncode == 1
    sandbox.clear_faults()
    resumed = upload(sandbox, work, "out", "--json")
    assert resumed.returncode == 0, resumed.stderr
    summary = json.loads(resumed.stdout)
    assert (summary["uploaded"], summary["skipped"]) == (1, 1)
    assert download(sandbox, tmp_path / "r") == {"out/a.txt": b"first file\n",
                                                 "out/b.txt": b"second file\n"}


def test_a_file_stored_before_a_500_counts_as_done(no_duplicates, work, tmp_path):
    sandbox = no_duplicates
    sandbox.inject("PUT", r"a\.txt", status=500, processed=True)  # stored, then 500
    result = upload(sandbox, work, "out")
    assert result.returncode == 0, result.stderr
    assert len(sandbox.fired) == 1
    assert download(sandbox, tmp_path / "r")["out/a.txt"] == b"first file\n"


def test_uploading_the_same_files_again_succeeds(no_duplicates, work):
    assert upload(no_duplicates, work, "out").returncode == 0
    again = upload(no_duplicates, work, "out", "--json")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["skipped"] == 2


def test_a_different_file_under_a_stored_name_is_a_clear_error(no_duplicates, work, tmp_path):
    sandbox = no_duplicates
    assert upload(sandbox, work, "out").returncode == 0
    (work / "out" / "a.txt").write_text("changed\n")
    result = upload(sandbox, work, "out", "--replace")
    assert result.returncode == 1
    assert last_lines(result) == [
        "error: package pkg 1.0.0 already holds a different 'out/a.txt', and GitLab refuses "
        "another ('Duplicate package is not allowed')",
        "hint: this group does not allow duplicate generic packages: upload to a new version, "
        "or allow duplicates in the group's package settings"]
    assert download(sandbox, tmp_path / "r")["out/a.txt"] == b"first file\n"


def test_a_later_upload_cannot_replace_the_manifest(no_duplicates, work, tmp_path):
    sandbox = no_duplicates
    assert upload(sandbox, work, "out").returncode == 0
    result = upload(sandbox, work, "notes.txt")
    assert result.returncode == 1
    assert last_lines(result)[0] == (
        "error: the files went up, but GitLab refuses a second manifest.json in package pkg "
        "1.0.0 ('Duplicate package is not allowed'): its manifest still lists only the "
        "earlier upload's")
    assert set(download(sandbox, tmp_path / "r")) == {"out/a.txt", "out/b.txt"}


@pytest.mark.parametrize("duplicates", [True, False], ids=["duplicates", "no-duplicates"])
def test_a_manifest_stored_before_a_500_is_not_taken_for_another_upload(sandbox, work,
                                                                         tmp_path, duplicates):
    """The retry stores a second copy of the same manifest, or, without duplicates, is
    refused as one; either way the upload succeeded."""
    sandbox.app.settings.generic_duplicates = duplicates
    if duplicates:  # a later upload, adding a file
        assert upload(sandbox, work, "out").returncode == 0
    sandbox.inject("PUT", r"/manifest\.json$", status=500, processed=True)  # stored, then 500
    result = upload(sandbox, work, "out", "notes.txt")
    assert result.returncode == 0, result.stderr
    assert len(sandbox.fired) == 1
    assert set(download(sandbox, tmp_path / "r")) == {"out/a.txt", "out/b.txt", "notes.txt"}
