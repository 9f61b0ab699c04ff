"""The catalog project's tree is what GitLab's catalog requires, and publishing tags it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

from mlflow_gitlab import __version__

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "publish_catalog.py"


def run(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True,
                          timeout=120, env=env)


def test_the_dry_run_builds_a_catalog_project(tmp_path: Path):
    tree = tmp_path / "catalog"
    result = run("--dry-run", str(tree))
    assert result.returncode == 0, result.stderr
    # the catalog needs a README at the root and the components in templates/
    assert result.stdout.split() == [".gitlab-ci.yml", "LICENSE", "README.md",
                                     "templates/release.yml", "templates/report.yml",
                                     "templates/train.yml", "templates/tune.yml"]
    for component in (ROOT / "ci-components" / "templates").glob("*.yml"):
        assert (tree / "templates" / component.name).read_text() == component.read_text()
    readme = (tree / "README.md").read_text()
    assert f"/train@{__version__}" in readme and "../" not in readme  # no dangling links
    assert "MIT License" in (tree / "LICENSE").read_text()
    job = yaml.safe_load((tree / ".gitlab-ci.yml").read_text())["create-release"]
    assert job["release"]["tag_name"] == "$CI_COMMIT_TAG"  # a tag pipeline's release job
    assert job["rules"][0]["if"].startswith("$CI_COMMIT_TAG =~")


def test_publishing_commits_the_tree_and_tags_the_version_once(tmp_path: Path):
    remote = tmp_path / "components.git"
    subprocess.run(["git", "init", "--quiet", "--bare", str(remote)], check=True)
    first = run("--remote", remote.as_uri())
    assert first.returncode == 0, first.stderr
    tags = subprocess.run(["git", "--git-dir", str(remote), "tag"], capture_output=True,
                          text=True, check=True).stdout.split()
    assert tags == [__version__]
    files = subprocess.run(["git", "--git-dir", str(remote), "ls-tree", "-r", "--name-only",
                            __version__], capture_output=True, text=True, check=True).stdout
    assert "templates/train.yml" in files.split() and "README.md" in files.split()
    again = run("--remote", remote.as_uri())  # a re-run of the release job changes nothing
    assert again.returncode == 0 and "already published" in again.stderr


def tags_of(remote: Path) -> list[str]:
    return subprocess.run(["git", "--git-dir", str(remote), "tag"], capture_output=True,
                          text=True, check=True).stdout.split()


def test_a_prerelease_is_published_under_its_semantic_version(tmp_path: Path):
    remote = tmp_path / "components.git"
    subprocess.run(["git", "init", "--quiet", "--bare", str(remote)], check=True)
    pep440 = run("--remote", remote.as_uri(), "--tag", "1.0.0rc1")
    # the catalog would never publish it: one line saying so, nothing pushed
    assert pep440.returncode == 2 and "not a semantic version" in pep440.stderr.splitlines()[-1]
    assert tags_of(remote) == []
    semver = run("--remote", remote.as_uri(), "--tag", "1.0.0-rc.1")
    assert semver.returncode == 0, semver.stderr
    assert tags_of(remote) == ["1.0.0-rc.1"]


def test_a_description_that_cannot_be_set_stops_before_anything_is_pushed(tmp_path: Path):
    remote = tmp_path / "components.git"
    subprocess.run(["git", "init", "--quiet", "--bare", str(remote)], check=True)
    env = {"PATH": "/usr/bin:/bin", "CATALOG_TOKEN": "x" * 20, "HOME": str(tmp_path)}
    result = run("--remote", remote.as_uri(), "--project-api",
                 "http://127.0.0.1:9/api/v4/projects/1", env=env)  # nothing listens there
    assert result.returncode == 1, result.stderr
    assert result.stderr.startswith("error: setting the catalog project's description failed")
    assert len(result.stderr.splitlines()) == 1 and "Traceback" not in result.stderr
    assert tags_of(remote) == []  # the tag pipeline would publish an undescribed project
