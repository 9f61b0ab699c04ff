"""GitLab's naming rules for generic packages: valid names pass, invalid ones are refused
with a message, and local file paths are mapped into GitLab's alphabet."""

from __future__ import annotations

import pytest

from mlflow_gitlab.errors import InvalidPackageName
from mlflow_gitlab.http.paths import url_path
from mlflow_gitlab.packages.naming import (
    check_package,
    check_remote_name,
    part_name,
    path_problem,
    remote_name,
)
from mlflow_gitlab.packages.runs import package_from_tags, package_tags, run_package
from mlflow_gitlab.packages.sources import plan_files

RUN_ID = "3f2b8e1c-4d5a-4b6c-9e7f-0a1b2c3d4e5f"


@pytest.mark.parametrize("version", [
    "1.2.3", "1.2", "1.2.3g", "1.2.bananas", "v1.2.4-build", "a" * 40,
    "1.3.350-20201230123456", RUN_ID, "0f" * 16, "1.0.0+build.5"])
def test_versions_gitlab_accepts_pass(version):
    check_package("my-model", version)


@pytest.mark.parametrize("version", [
    "..1.2.3", "1.2.3-4/../../", "%2e%2e%2f1.2.3", "1.2..3", "", "1.2 3", "1/2", "é", "9" * 256])
def test_versions_gitlab_rejects_are_refused(version):
    with pytest.raises(InvalidPackageName, match="package version") as info:
        check_package("my-model", version)
    assert info.value.exit_code == 2
    assert "letters, digits" in info.value.hint


@pytest.mark.parametrize("name", ["my model", "a/b", ".", "..", "", "model@1", "n" * 256, "é"])
def test_package_names_gitlab_rejects_are_refused(name):
    with pytest.raises(InvalidPackageName, match="package name"):
        check_package(name, "1.0.0")


@pytest.mark.parametrize(("path", "name"), [
    ("outputs/model.pt", "outputs/model.pt"),
    ("outputs/my model (final).pt", "outputs/my_model__final_.pt"),
    ("modèle/poids.bin", "mod_le/poids.bin"),
    ("a+b/c-d_e.f", "a+b/c-d_e.f"),
    (".hidden/.env", ".hidden/.env"),
])
def test_local_paths_are_mapped_to_gitlabs_alphabet(path, name):
    assert remote_name(path) == name
    check_remote_name(name)


@pytest.mark.parametrize("name", ["../x", "a/../b", "/abs", "a//b", "a/./b", "a b", "a\\b", ""])
def test_unsafe_package_file_names_are_refused(name):
    with pytest.raises(InvalidPackageName):
        check_remote_name(name)


def test_url_paths_encode_each_segment():
    assert url_path("dir/a+b.txt") == "dir/a%2Bb.txt"
    assert part_name("dir/model.bin", 3) == "dir/model.bin.part0003"


def test_a_runs_package_is_named_after_its_experiment_and_run():
    name, version = run_package(RUN_ID, "12")
    assert (name, version) == ("ml_experiment_12", RUN_ID)
    tags = package_tags(name, version, "https://gitlab/x/manifest.json")
    assert package_from_tags(tags) == (name, version)
    assert package_from_tags({}) is None


def test_two_files_mapping_to_one_name_are_refused_before_upload(tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "a b.txt").write_text("1")
    (tmp_path / "out" / "a_b.txt").write_text("2")
    with pytest.raises(InvalidPackageName, match="would both be stored") as info:
        plan_files([tmp_path / "out"], 0)
    assert "out/a_b.txt" in str(info.value) and "out/a b.txt" in str(info.value)


def test_a_top_level_manifest_json_would_hide_ours_and_is_refused(tmp_path):
    (tmp_path / "manifest.json").write_text("{}")
    with pytest.raises(InvalidPackageName, match="manifest"):
        plan_files([tmp_path / "manifest.json"], 0)


def test_folders_keep_their_name_and_files_their_base_name(tmp_path):
    (tmp_path / "outputs" / "sub").mkdir(parents=True)
    (tmp_path / "outputs" / "sub" / "w.bin").write_bytes(b"x" * 10)
    (tmp_path / "metrics.json").write_text("{}")
    planned = plan_files([tmp_path / "outputs", tmp_path / "metrics.json"], 4)
    assert [(f.path, f.size, [p.name for p in f.parts]) for f in planned] == [
        ("metrics.json", 2, ["metrics.json"]),
        ("outputs/sub/w.bin", 10, ["outputs/sub/w.bin.part0001", "outputs/sub/w.bin.part0002",
                                   "outputs/sub/w.bin.part0003"]),
    ]


@pytest.mark.parametrize("path", ["model.pkl", "outputs/sub/a b.txt", "caf\u00e9/x", "a" * 255,
                                  "d/" + "\u00e9" * 127, ".hidden/x", "a.b"])
def test_paths_any_system_can_hold_pass(path):
    assert path_problem(path) is None


@pytest.mark.parametrize(("path", "problem"), [
    ("", "it is empty"),
    ("/etc/passwd", "it is absolute"),
    ("C:/x", "it is absolute"),
    ("a\tb", "it has a control character ('\\t')"),
    ("a\x7fb", "it has a control character ('\\x7f')"),
    ("a\\b", "it has a backslash"),
    ("a//b", "it has an empty, `.` or `..` part"),
    ("a/../b", "it has an empty, `.` or `..` part"),
    ("a" * 256, "one of its names has 256 bytes; file systems allow at most 255"),
    ("d/" + "\u00e9" * 128, "one of its names has 256 bytes; file systems allow at most 255"),
    ("caf\udce9", "it is not valid UTF-8"),
])
def test_paths_that_downloads_refuse_are_named_with_the_reason(path, problem):
    assert path_problem(path) == problem
