"""`mlflow-gitlab init` writes a configuration that parses, uses the components' real inputs,
creates no duplicate pipelines and documents the variable it needs."""

from __future__ import annotations

import itertools
import os
from pathlib import Path

import pytest
import yaml

from mlflow_gitlab import __version__
from mlflow_gitlab.errors import ScaffoldError
from mlflow_gitlab.scaffold.pipeline import Choices, render
from tests.cli import mlflow_gitlab

ROOT = Path(__file__).resolve().parents[2]
COMBINATIONS = [dict(zip(("tune", "release", "schedule"), flags, strict=True))
                for flags in itertools.product((True, False), repeat=3)]


def component_inputs(name: str) -> dict:
    header = (ROOT / "ci-components" / "templates" / f"{name}.yml").read_text()
    return yaml.safe_load(header.split("\n---\n", 1)[0])["spec"]["inputs"]


def includes(config: dict) -> dict[str, dict]:
    """component name -> inputs."""
    out = {}
    for entry in config["include"]:
        address, version = entry["component"].rsplit("@", 1)
        assert address.startswith("$CI_SERVER_FQDN/mlflow-gitlab/components/")
        assert version == __version__
        out[address.rsplit("/", 1)[1]] = entry.get("inputs", {})
    return out


@pytest.mark.parametrize("flags", COMBINATIONS, ids=lambda f: "-".join(k for k, v in f.items()
                                                                        if v) or "train-only")
def test_every_choice_renders_valid_yaml_with_known_and_required_inputs(flags):
    config = yaml.safe_load(render(Choices(model="churn", metric="val_auc", mode="max",
                                           **flags)))
    used = includes(config)
    releases = flags["release"] or flags["schedule"]
    assert set(used) == {"train"} | ({"tune", "report"} if flags["tune"] else set()) | (
        {"release"} if releases else set())
    for name, inputs in used.items():
        spec = component_inputs(name)
        assert set(inputs) <= set(spec), name
        missing = [k for k, v in spec.items() if "default" not in v and k not in inputs]
        assert missing == [], name
        assert all(isinstance(inputs.get(k), list) for k in ("rules", "matrix") if k in inputs)


@pytest.mark.parametrize("flags", COMBINATIONS)
def test_no_rule_makes_a_branch_and_an_mr_pipeline_for_one_push(flags):
    config = yaml.safe_load(render(Choices(model="m", metric="loss", **flags)))
    rules = config["workflow"]["rules"]
    guard = rules.index({"if": "$CI_COMMIT_BRANCH && $CI_OPEN_MERGE_REQUESTS", "when": "never"})
    assert rules.index({"if": "$CI_COMMIT_BRANCH"}) > guard
    assert all("if" in rule for rule in rules)  # no catch-all
    for inputs in includes(config).values():
        assert all("if" in rule for rule in inputs.get("rules", []))


def test_tuning_trains_the_baseline_on_the_default_branch_and_prereleases_in_mrs():
    used = includes(yaml.safe_load(render(Choices(model="m", metric="auc", mode="max"))))
    assert used["train"]["rules"] == [{"if": "$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH"}]
    assert used["release"]["rules"] == [
        {"if": '$CI_PIPELINE_SOURCE == "merge_request_event"'},
        {"if": "$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH"}]
    assert used["report"] == {"model": "m", "metric": "auc", "mode": "max"}


def test_a_scheduled_retrain_releases_from_schedules_only():
    text = render(Choices(tune=False, release=False, schedule=True, model="m", metric="rmse"))
    config = yaml.safe_load(text)
    assert config["workflow"]["rules"][0] == {"if": '$CI_PIPELINE_SOURCE == "schedule"'}
    assert includes(config)["release"]["rules"] == [
        {"if": '$CI_PIPELINE_SOURCE == "schedule" && $CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH'}]
    assert "Pipeline schedules" in text


def test_the_header_documents_the_token_variable():
    text = render(Choices(model="m", metric="loss"))
    header = text.split("workflow:", 1)[0]
    assert "MLFLOW_TRACKING_TOKEN" in header and "`api` scope" in header
    assert "Masked" in header and "Protected" in header


@pytest.mark.parametrize(("choices", "message"), [
    (Choices(metric="loss"), "model name"),
    (Choices(model="m"), "metric"),
])
def test_missing_choices_are_named(choices, message):
    with pytest.raises(ScaffoldError, match=message):
        render(choices)


def test_cli_writes_the_file_with_the_matrix_of_a_space_and_refuses_to_overwrite(tmp_path):
    (tmp_path / "space.yml").write_text("parameters:\n  DEPTH: [3, 5]\n  LR: [0.1]\n")
    argv = ["init", "--model", "churn", "--metric", "val_auc", "--space", "space.yml"]
    first = mlflow_gitlab(*argv, env=os.environ, cwd=tmp_path, timeout=60)
    assert first.returncode == 0, first.stderr
    assert "MLFLOW_TRACKING_TOKEN" in first.stderr
    tune = includes(yaml.safe_load((tmp_path / ".gitlab-ci.yml").read_text()))["tune"]
    assert tune["matrix"] == [{"DEPTH": ["3", "5"], "LR": ["0.1"]}]
    assert tune["matrix-keys"] == "DEPTH,LR"
    again = mlflow_gitlab(*argv, env=os.environ, cwd=tmp_path, timeout=60)
    assert again.returncode == 2
    assert again.stderr.startswith("error: .gitlab-ci.yml already exists")
