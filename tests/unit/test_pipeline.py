"""The repository's own pipeline: it parses, publishes only on semver tags, and its publish
command is the documented one and works (run against the sandbox's PyPI registry)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from scripts.check_release_tag import tag_matches

from tests import pypi_dist

ROOT = Path(__file__).resolve().parents[2]
PUBLISH = ("TWINE_USERNAME=gitlab-ci-token TWINE_PASSWORD=${CI_JOB_TOKEN} twine upload "
           "--repository-url ${CI_API_V4_URL}/projects/${CI_PROJECT_ID}/packages/pypi dist/*")
SEMVER_RULE = r"$CI_COMMIT_TAG =~ /^v?\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/"


@pytest.fixture(scope="module")
def pipeline() -> dict:
    return yaml.safe_load((ROOT / ".gitlab-ci.yml").read_text())


def test_the_pipeline_has_every_job(pipeline):
    assert {"lint", "tests", "e2e", "build", "tag-check", "publish-gitlab",
            "publish-pypi"} <= set(pipeline)
    assert "make test" in pipeline["tests"]["script"]
    assert "make e2e" in pipeline["e2e"]["script"]
    assert "python -m build" in pipeline["build"]["script"]


def test_publishing_runs_on_semver_tags_only_and_pypi_only_with_a_token(pipeline):
    assert pipeline["publish-gitlab"]["rules"] == [{"if": SEMVER_RULE}]
    assert pipeline["tag-check"]["rules"] == [{"if": SEMVER_RULE}]
    assert pipeline["publish-pypi"]["rules"] == [{"if": SEMVER_RULE + " && $PYPI_TOKEN"}]
    tag = re.compile(r"^v?\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$")
    assert all(tag.match(t) for t in ("v0.1.0", "0.1.0", "v1.2.3-rc.1"))
    assert not any(tag.match(t) for t in ("v1.2", "latest", "v1.2.3+build"))


def test_the_publish_command_is_the_documented_one(pipeline):
    assert pipeline["publish-gitlab"]["script"][-1] == PUBLISH
    assert PUBLISH in (ROOT / "docs" / "install.md").read_text()


def test_the_tag_must_be_the_package_version():
    assert tag_matches("v1.0.0-rc.1", "1.0.0rc1") and tag_matches("0.1.0", "0.1.0")
    assert not tag_matches("v0.2.0", "0.1.0") and not tag_matches("vx", "0.1.0")


def test_the_publish_command_uploads_to_the_registry_as_a_runner_runs_it(
        pipeline, sandbox, tmp_path):
    pypi_dist.build(tmp_path / "dist")
    runner_env = {"CI_JOB_TOKEN": sandbox.tokens["job"], "CI_API_V4_URL": sandbox.api_url,
                  "CI_PROJECT_ID": str(sandbox.project_id)}
    bin_dir = str(Path(sys.executable).parent)
    env = dict(os.environ, **runner_env, PATH=bin_dir + os.pathsep + os.environ["PATH"],
               TWINE_NON_INTERACTIVE="1", PYTHON_KEYRING_BACKEND="keyring.backends.null.Keyring")
    command = pipeline["publish-gitlab"]["script"][-1]
    done = subprocess.run(["bash", "-ec", command], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    names = {r["file_name"] for r in sandbox.app.store.all(
        "SELECT f.file_name FROM package_files f JOIN packages p ON p.id = f.package_id "
        "WHERE p.package_type = 'pypi'")}
    assert names == {p.name for p in (tmp_path / "dist").iterdir()}
