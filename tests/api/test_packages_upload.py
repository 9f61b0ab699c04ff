"""Generic-package uploads and downloads against the sandbox, under injected faults.

Every round trip is checked byte for byte, and the sandbox's own state shows what was
stored: no short file after a dropped connection, no second copy after a resume.
"""

from __future__ import annotations

import filecmp
import json
import logging
import os
import time
from pathlib import Path

import pytest

from mlflow_gitlab.errors import (
    ConfigError,
    GitLabAPIError,
    InvalidPackageName,
    PackageDownloadError,
    PackageUploadError,
)
from mlflow_gitlab.gitlab_api import ProjectAPI, connect
from mlflow_gitlab.packages import download_package, upload_paths
from mlflow_gitlab.sandbox import Settings
from mlflow_gitlab.settings import TransferSettings, gitlab_settings

LIMIT = 64 * 1024  # the sandbox's per-file limit in this module: larger files are split
SPLIT = TransferSettings(parallel=4, max_file_size=LIMIT)
PKG, VERSION = "ml_experiment_1", "3f2b8e1c-4d5a-4b6c-9e7f-0a1b2c3d4e5f"


@pytest.fixture
def sandbox_settings() -> Settings:
    return Settings(generic_max_file_size=LIMIT)


def client_for(sandbox, token: str = "developer", **env: str):
    return connect(gitlab_settings({
        "MLFLOW_GITLAB_URL": sandbox.url, "MLFLOW_GITLAB_PROJECT": sandbox.project_path,
        "MLFLOW_GITLAB_TOKEN": sandbox.tokens.get(token, token),
        "MLFLOW_GITLAB_RETRY_ATTEMPTS": "4", "MLFLOW_GITLAB_RETRY_SECONDS": "30", **env}))


@pytest.fixture
def client(sandbox):
    return client_for(sandbox)


@pytest.fixture
def outputs(tmp_path: Path) -> Path:
    """A run's outputs: nested folders, a name GitLab would reject, an empty file, and a
    file five times the server's limit."""
    root = tmp_path / "work" / "outputs"
    (root / "model").mkdir(parents=True)
    (root / "sub").mkdir()
    (root / "model" / "weights.bin").write_bytes(os.urandom(5 * LIMIT - 123))
    (root / "my config (v2).yaml").write_text("lr: 0.1\n")
    (root / "sub" / "empty.txt").write_bytes(b"")
    (root / "metrics.json").write_text(json.dumps({"loss": 0.25}))
    return root


def stored_files(sandbox, package: str = PKG) -> dict[str, list[int]]:
    """The sandbox's own record: file name -> sizes of every copy stored."""
    rows = sandbox.app.store.all(
        "SELECT f.file_name, f.size FROM package_files f JOIN packages p "
        "ON p.id = f.package_id WHERE p.name = ? ORDER BY f.id", package)
    files: dict[str, list[int]] = {}
    for row in rows:
        files.setdefault(row["file_name"], []).append(row["size"])
    return files


def same_tree(a: Path, b: Path) -> bool:
    listing = sorted(p.relative_to(a).as_posix() for p in a.rglob("*"))
    if listing != sorted(p.relative_to(b).as_posix() for p in b.rglob("*")):
        return False
    return all(filecmp.cmp(a / p, b / p, shallow=False) for p in listing if (a / p).is_file())


def round_trip(client, outputs: Path, tmp_path: Path, **kwargs) -> Path:
    result = upload_paths(client, PKG, VERSION, [outputs], transfer=SPLIT, **kwargs)
    assert len(result.manifest.files) == 4
    dest = tmp_path / "restored"
    download_package(client, PKG, VERSION, dest, transfer=SPLIT)
    assert same_tree(outputs, dest / "outputs")
    return dest


def test_folders_round_trip_byte_for_byte_with_a_manifest(sandbox, client, outputs, tmp_path):
    result = upload_paths(client, PKG, VERSION, [outputs], transfer=SPLIT)
    assert (result.uploaded, result.skipped) == (4, 0)
    assert result.manifest_url.endswith(f"/packages/generic/{PKG}/{VERSION}/manifest.json")
    files = stored_files(sandbox)
    assert files["outputs%2Fmy_config__v2_.yaml"] == [8]  # mapped to GitLab's alphabet
    assert [files[f"outputs%2Fmodel%2Fweights.bin.part000{i}"] for i in range(1, 6)] == [
        [LIMIT], [LIMIT], [LIMIT], [LIMIT], [LIMIT - 123]]  # split below the server's limit
    assert "outputs%2Fmodel%2Fweights.bin" not in files
    assert files["manifest.json"] == [len(result.manifest.to_bytes())]
    dest = tmp_path / "restored"
    download_package(client, PKG, VERSION, dest)
    assert same_tree(outputs, dest / "outputs")  # original names, parts reassembled
    assert (dest / "outputs" / "my config (v2).yaml").exists()


def test_a_429_is_retried_after_retry_after(sandbox, client, outputs, tmp_path, caplog):
    sandbox.inject("PUT", r"metrics\.json", status=429, retry_after=1)
    started = time.monotonic()
    with caplog.at_level(logging.INFO, logger="mlflow_gitlab"):
        round_trip(client, outputs, tmp_path)
    assert time.monotonic() - started >= 1.0
    assert [f["status"] for f in sandbox.fired] == [429]
    assert "429 Too Many Requests; retrying in 1.0 s" in caplog.text
    assert stored_files(sandbox)["outputs%2Fmetrics.json"] == [14]


def test_503s_back_off_and_succeed(sandbox, client, outputs, tmp_path):
    sandbox.inject("PUT", r"weights\.bin\.part0002", status=503, times=2)
    sandbox.inject("GET", r"weights\.bin\.part0004", status=503)
    round_trip(client, outputs, tmp_path)
    assert [f["status"] for f in sandbox.fired] == [503, 503, 503]


def test_a_dropped_upload_is_resent_whole_and_never_stored_short(sandbox, client, outputs,
                                                                  tmp_path):
    sandbox.inject("PUT", r"weights\.bin\.part0003", drop=True, drop_after=LIMIT // 2)
    sandbox.inject("PUT", r"metrics\.json", drop=True, drop_after=1)
    round_trip(client, outputs, tmp_path)
    assert [f["drop"] for f in sandbox.fired] == [True, True]
    files = stored_files(sandbox)
    assert files["outputs%2Fmodel%2Fweights.bin.part0003"] == [LIMIT]  # one copy, whole
    assert files["outputs%2Fmetrics.json"] == [14]
    assert list(sandbox.app.store.tmp_dir.iterdir()) == []


def test_a_download_cut_short_is_fetched_again(sandbox, client, outputs, tmp_path):
    upload_paths(client, PKG, VERSION, [outputs], transfer=SPLIT)
    sandbox.inject("GET", r"weights\.bin\.part0001", drop=True, drop_after=1000)
    sandbox.inject("GET", r"my_config", drop=True, drop_after=3)
    dest = tmp_path / "restored"
    download_package(client, PKG, VERSION, dest)
    assert len(sandbox.fired) == 2
    assert same_tree(outputs, dest / "outputs")
    assert not [p for p in dest.rglob("*") if "partial" in p.name]


def test_an_interrupted_upload_resumes_without_resending(sandbox, client, outputs, tmp_path):
    sandbox.inject("PUT", r"weights\.bin\.part0003", status=500, times=100)
    with pytest.raises(GitLabAPIError, match="part0003 failed after 4 attempt"):
        upload_paths(client, PKG, VERSION, [outputs], transfer=SPLIT)
    before = stored_files(sandbox)
    assert "manifest.json" not in before  # a consumer sees the upload is incomplete
    with pytest.raises(PackageDownloadError, match=r"no manifest\.json"):
        download_package(client, PKG, VERSION, tmp_path / "early")
    assert before["outputs%2Fmodel%2Fweights.bin.part0002"] == [LIMIT]

    sandbox.clear_faults()
    result = upload_paths(client, PKG, VERSION, [outputs], transfer=SPLIT)
    after = stored_files(sandbox)
    assert all(len(copies) == 1 for copies in after.values()), after  # nothing sent twice
    assert result.skipped >= 1
    round_trip(client, outputs, tmp_path)
    assert stored_files(sandbox) == after  # a complete package: the rerun sends nothing


def test_a_changed_file_is_refused_unless_replaced_and_then_wins(sandbox, client, outputs,
                                                                  tmp_path):
    upload_paths(client, PKG, VERSION, [outputs], transfer=SPLIT)
    (outputs / "metrics.json").write_text(json.dumps({"loss": 0.125}))
    files = sandbox.app.store.one("SELECT COUNT(*) FROM package_files")[0]
    with pytest.raises(PackageUploadError, match=r"already holds 'outputs/metrics\.json' with "
                                                 r"other content; nothing was uploaded"):
        upload_paths(client, PKG, VERSION, [outputs], transfer=SPLIT)
    assert sandbox.app.store.one("SELECT COUNT(*) FROM package_files")[0] == files
    result = upload_paths(client, PKG, VERSION, [outputs], transfer=SPLIT, replace=True)
    assert (result.uploaded, result.skipped) == (1, 3)
    dest = tmp_path / "restored"
    download_package(client, PKG, VERSION, dest)
    assert json.loads((dest / "outputs" / "metrics.json").read_text()) == {"loss": 0.125}


def test_without_splitting_the_size_limit_is_explained(sandbox, client, outputs):
    with pytest.raises(PackageUploadError, match="too large") as info:
        upload_paths(client, PKG, VERSION, [outputs / "model"],
                     transfer=TransferSettings(max_file_size=0))
    assert "MLFLOW_GITLAB_MAX_FILE_SIZE" in info.value.hint


@pytest.mark.parametrize(("package", "version"), [
    ("my model", "1.0.0"), ("pkg", "1..2"), ("pkg", "../../1.0"), ("a/b", "1")])
def test_bad_names_are_refused_before_any_byte_is_sent(sandbox, client, outputs, package,
                                                      version):
    sandbox.inject("*", ".*", status=500, times=1000)  # any request at all would show here
    with pytest.raises(InvalidPackageName):
        upload_paths(client, package, version, [outputs])
    assert sandbox.fired == []


def test_clashing_file_names_are_refused_before_any_byte_is_sent(sandbox, client, outputs):
    (outputs / "my_config__v2_.yaml").write_text("clash")
    sandbox.inject("*", ".*", status=500, times=1000)
    with pytest.raises(InvalidPackageName, match=r"my_config__v2_\.yaml"):
        upload_paths(client, PKG, VERSION, [outputs])
    assert sandbox.fired == []


def put_raw(api, name: str, body: bytes) -> None:
    url = f"/projects/{api.sandbox.project_id}/packages/generic/{PKG}/{VERSION}/{name}"
    assert api.request("PUT", url, data=body).status_code == 201


@pytest.mark.parametrize("path", ["../escape.txt", "/tmp/escape.txt", "a/../../escape.txt"])
def test_unsafe_manifest_paths_are_refused_before_anything_is_written(api, client, tmp_path,
                                                                      path):
    sha = "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"  # of "hello\n"
    put_raw(api, "good.txt", b"hello\n")
    put_raw(api, "manifest.json", json.dumps({
        "format": "mlflow-gitlab/manifest", "format_version": 1,
        "package": {"name": PKG, "version": VERSION},
        "files": [{"path": "good.txt", "name": "good.txt", "size": 6, "sha256": sha},
                  {"path": path, "name": "good.txt", "size": 6, "sha256": sha}]}).encode())
    dest = tmp_path / "deep" / "dest"
    with pytest.raises(PackageDownloadError, match="unsafe path"):
        download_package(client, PKG, VERSION, dest)
    assert not dest.exists()
    assert not (tmp_path / "deep" / "escape.txt").exists()


def test_a_symlink_in_the_destination_cannot_lead_outside(client, outputs, tmp_path):
    upload_paths(client, PKG, VERSION, [outputs], transfer=SPLIT)
    dest, outside = tmp_path / "dest", tmp_path / "outside"
    dest.mkdir()
    outside.mkdir()
    (dest / "outputs").symlink_to(outside)
    with pytest.raises(PackageDownloadError, match="outside"):
        download_package(client, PKG, VERSION, dest)
    assert list(outside.iterdir()) == []


def test_a_file_changed_after_its_manifest_fails_verification(api, client, outputs, tmp_path):
    upload_paths(client, PKG, VERSION, [outputs], transfer=SPLIT)
    put_raw(api, "outputs/metrics.json", b'{"loss": 9}')  # newer, and not in the manifest
    dest = tmp_path / "restored"
    with pytest.raises(PackageDownloadError, match="not the manifest's"):
        download_package(client, PKG, VERSION, dest)
    assert not (dest / "outputs" / "metrics.json").exists()


def test_a_ci_job_token_can_upload_and_download(sandbox, outputs, tmp_path):
    env = {"CI_API_V4_URL": sandbox.api_url, "CI_PROJECT_ID": str(sandbox.project_id),
           "CI_JOB_TOKEN": sandbox.tokens["job"], "MLFLOW_TRACKING_TOKEN": "ignored-here"}
    settings = gitlab_settings(env)
    assert settings.job_token
    round_trip(connect(settings), outputs, tmp_path)


def test_a_read_only_token_gets_one_line_naming_its_variable(sandbox, outputs):
    with pytest.raises(ConfigError, match="the token in MLFLOW_GITLAB_TOKEN may not upload") \
            as info:
        upload_paths(client_for(sandbox, "read_api"), PKG, VERSION, [outputs])
    assert sandbox.tokens["read_api"] not in f"{info.value} {info.value.hint}"


def test_an_open_stream_is_never_sent_twice(sandbox, client, outputs):
    """Only a body re-created per attempt is retried: a read stream would go out empty."""
    sandbox.inject("PUT", "stream.bin", status=503)
    url = f"{client.project_url}/packages/generic/{PKG}/{VERSION}/stream.bin"
    with (outputs / "metrics.json").open("rb") as fh, \
            pytest.raises(GitLabAPIError, match="after 1 attempt"):
        client.session.put(url, data=fh)
    assert len(sandbox.fired) == 1 and stored_files(sandbox) == {}


def test_the_project_api_on_our_session_shares_the_retry_policy(sandbox, client, caplog):
    sandbox.inject("GET", r"/packages$", status=429, retry_after=1)
    with caplog.at_level(logging.INFO, logger="mlflow_gitlab.http.retry"):
        assert list(ProjectAPI(client).packages("churn")) == []
    assert [f["status"] for f in sandbox.fired] == [429]
    assert "GET packages: 429 Too Many Requests; retrying in 1.0 s" in caplog.text
