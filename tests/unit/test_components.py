"""The CI/CD components follow GitLab's authoring rules and their docs match their specs."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from mlflow_gitlab import __version__

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = sorted((ROOT / "ci-components" / "templates").glob("*.yml"))
GLOBAL_KEYWORDS = {"default", "variables", "workflow", "stages", "include", "image",
                   "services", "cache", "before_script", "after_script"}
TYPES = {"string", "number", "boolean", "array"}


def spec_and_jobs(path: Path) -> tuple[dict, dict]:
    header, jobs = yaml.safe_load_all(path.read_text())
    return header["spec"]["inputs"], jobs


def test_the_four_components_exist():
    assert {p.stem for p in TEMPLATES} >= {"train", "tune", "report", "release"}


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.stem)
def test_every_input_is_typed_described_and_used(path: Path):
    inputs, _ = spec_and_jobs(path)
    body = path.read_text().split("\n---\n", 1)[1]
    for name, spec in inputs.items():
        assert spec.get("type") in TYPES, name
        assert len(spec.get("description", "")) > 10, name
        assert f"$[[ inputs.{name} ]]" in body, f"{name} is never used"
        if "options" in spec:
            assert spec.get("default", spec["options"][0]) in spec["options"], name
        if "regex" in spec and "default" in spec:
            assert re.fullmatch(spec["regex"], str(spec["default"])), name
    for required in ("stage", "job-prefix", "image", "version", "rules", "token-variable"):
        assert required in inputs, required
    assert inputs["version"]["default"] == __version__  # package and components release together


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.stem)
def test_no_global_keywords_and_namespaced_jobs(path: Path):
    _, jobs = spec_and_jobs(path)
    assert not set(jobs) & GLOBAL_KEYWORDS
    for name, job in jobs.items():
        assert name.startswith("$[[ inputs.job-prefix ]]-")
        assert job["stage"] == "$[[ inputs.stage ]]"
        assert job["rules"] == "$[[ inputs.rules ]]"
        assert any("mlflow-gitlab " in line for line in job["script"])  # YAML stays thin
        assert not re.search(r"https?://", str(job)), "hosts come from $CI_SERVER_*/$CI_API_*"


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.stem)
def test_default_rules_never_create_duplicate_pipelines(path: Path):
    """A rule with no `if` (or `if: $CI_COMMIT_BRANCH` without the open-MR guard) would add
    the job to both the branch and the MR pipeline of one push (gitlab-ci.md §9)."""
    inputs, _ = spec_and_jobs(path)
    rules = inputs["rules"]["default"]
    assert all("if" in rule for rule in rules)
    bare_branch = [i for i, r in enumerate(rules) if r["if"].strip() == "$CI_COMMIT_BRANCH"]
    for index in bare_branch:
        guard = rules[index - 1] if index else {}
        assert guard.get("when") == "never" and "CI_OPEN_MERGE_REQUESTS" in guard["if"]


def test_release_runs_last_and_hands_its_version_on():
    inputs, jobs = spec_and_jobs(ROOT / "ci-components" / "templates" / "release.yml")
    job = jobs["$[[ inputs.job-prefix ]]-release"]
    assert inputs["stage"]["default"] == ".post"  # the last stage: runs only if all passed
    assert "needs" not in job and "when" not in job  # no needs: waits for every stage (§10)
    assert job["artifacts"]["reports"]["dotenv"] == "mlflow-release.env"
    assert "--dotenv mlflow-release.env" in job["script"][-1]


def test_input_tables_in_the_readme_and_docs_are_generated_from_the_specs():
    """style.md §4: each component's spec:inputs matches its README table (and docs/)."""
    script = ROOT / "scripts" / "component_docs.py"
    result = subprocess.run([sys.executable, str(script), "--check"], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr


def test_readme_has_a_section_with_an_include_example_per_component():
    text = (ROOT / "ci-components" / "README.md").read_text()
    components = text.split("\n## Components\n", 1)[1].split("\n## ", 1)[0]
    for path in TEMPLATES:
        section = components.split(f"### `{path.stem}`", 1)[1].split("\n### ", 1)[0]
        assert f"/{path.stem}@{__version__}" in section, path.stem
        assert f"<!-- inputs:{path.stem} -->" in section, path.stem


def test_docs_show_every_component_input():
    text = (ROOT / "docs" / "components.md").read_text()
    for path in TEMPLATES:
        inputs, _ = spec_and_jobs(path)
        section = text.split(f"## `{path.stem}`", 1)[1].split("\n## ", 1)[0]
        for name in inputs:
            assert f"`{name}`" in section, (path.stem, name)


@pytest.mark.parametrize("name", ["train", "tune"])
def test_tracked_jobs_keep_the_relay_spool_whatever_the_result(name: str):
    _, jobs = spec_and_jobs(ROOT / "ci-components" / "templates" / f"{name}.yml")
    (job,) = jobs.values()
    assert job["artifacts"]["when"] == "always"  # a failed job's unsent points matter most
    assert ".mlflow-gitlab/spool/" in job["artifacts"]["paths"]


def test_the_spool_artifact_is_where_the_relay_spools():
    from mlflow_gitlab.matrix_yaml import SPOOL_ARTIFACT
    from mlflow_gitlab.relay.config import SPOOL_DEFAULT

    assert f"{SPOOL_DEFAULT.as_posix()}/" == SPOOL_ARTIFACT
