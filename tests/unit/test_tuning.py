"""Search spaces become GitLab matrices within the 200-job limit, or fail with a clear error."""

from __future__ import annotations

import os

import pytest
import yaml

from mlflow_gitlab.errors import MatrixTooLarge, SearchSpaceError
from mlflow_gitlab.tuning.matrix_yaml import fan_out, matrix_entries, render
from mlflow_gitlab.tuning.space import load_space, plan
from tests import ci_envs
from tests.cli import mlflow_gitlab

SPACE = """
parameters:
  LEARNING_RATE: [0.01, 0.1]
  N_ESTIMATORS: {min: 50, max: 150, step: 50}
  OPTIMIZER: [adam, sgd]
"""


def combinations(entries: list[dict]) -> set[tuple]:
    """Expand a `parallel:matrix` value the way GitLab does (cartesian product per entry)."""
    import itertools

    out = set()
    for entry in entries:
        columns = [v if isinstance(v, list) else [v] for v in entry.values()]
        out |= set(itertools.product(*columns))
    return out


def test_a_grid_is_one_matrix_entry_whose_product_is_every_combination():
    space = load_space(SPACE)
    result = plan(space.parameters)
    entries = matrix_entries(result)
    assert entries == [{"LEARNING_RATE": ["0.01", "0.1"], "N_ESTIMATORS": ["50", "100", "150"],
                        "OPTIMIZER": ["adam", "sgd"]}]
    assert len(combinations(entries)) == 12 == len(result.combinations)


def test_float_steps_give_clean_strings():
    space = load_space("parameters:\n  DROPOUT: {min: 0.1, max: 0.5, step: 0.1}\n")
    assert space.parameters[0].choices == ("0.1", "0.2", "0.3", "0.4", "0.5")


def test_random_sampling_is_distinct_reproducible_and_bounded():
    space = load_space(SPACE + "  ALPHA: {distribution: loguniform, min: 0.0001, max: 0.1}\n")
    first = plan(space.parameters, "random", max_jobs=25, seed=3)
    again = plan(space.parameters, "random", max_jobs=25, seed=3)
    other = plan(space.parameters, "random", max_jobs=25, seed=4)
    assert first == again != other
    assert len(set(first.combinations)) == 25
    alphas = [float(c[-1]) for c in first.combinations]
    assert all(0.0001 <= a <= 0.1 for a in alphas)
    # one scalar entry per candidate: GitLab runs exactly these
    assert combinations(matrix_entries(first)) == set(first.combinations)


def test_random_over_a_small_space_runs_all_of_it_once():
    result = plan(load_space(SPACE).parameters, "random", max_jobs=50)
    assert sorted(result.combinations) == sorted(plan(load_space(SPACE).parameters).combinations)


def test_a_grid_past_200_jobs_is_refused_with_a_way_out():
    space = load_space("parameters:\n  A: {min: 1, max: 15}\n  B: {min: 1, max: 15}\n")
    with pytest.raises(MatrixTooLarge) as exc:
        plan(space.parameters)
    assert "225 combinations" in str(exc.value) and "200" in str(exc.value)
    assert "--strategy random" in exc.value.hint
    assert len(plan(space.parameters, "random", max_jobs=200).combinations) == 200
    with pytest.raises(MatrixTooLarge):
        plan(space.parameters, "random", max_jobs=201)


@pytest.mark.parametrize(("text", "message"), [
    ("parameters: {}", "no `parameters`"),
    ("parameters:\n  learning-rate: [1]", "not a valid matrix variable name"),
    ("parameters:\n  A: {min: 2, max: 1}", "min <= max"),
    ("parameters:\n  A: {min: 0.1, max: 1}", "positive `step`"),
    ("parameters:\n  A: {distribution: normal, min: 0, max: 1}", "uniform or loguniform"),
    ("parameters:\n  A: [1]\nsearch: grid", "unknown keys"),
    ("parameters: [", "not valid YAML"),
])
def test_malformed_spaces_say_what_is_wrong(text: str, message: str):
    with pytest.raises(SearchSpaceError, match=message):
        load_space(text)


def test_a_grid_cannot_cover_a_continuous_parameter():
    space = load_space("parameters:\n  A: {distribution: uniform, min: 0, max: 1}\n")
    with pytest.raises(SearchSpaceError, match="continuous"):
        plan(space.parameters)


def test_the_child_pipeline_is_one_matrix_job_that_names_its_keys():
    text, result = fan_out(SPACE, strategy="random", max_jobs=4, seed=1, fmt="child",
                           job_name="mlflow-tune", image="python:3.12-slim",
                           script=["pip install mlflow-gitlab", "mlflow-gitlab run -- python t.py"])
    config = yaml.safe_load(text)
    job = config["mlflow-tune"]
    assert job["image"] == "python:3.12-slim"
    assert job["variables"]["MLFLOW_GITLAB_MATRIX_KEYS"] == "LEARNING_RATE,N_ESTIMATORS,OPTIMIZER"
    assert combinations(job["parallel"]["matrix"]) == set(result.combinations)
    # Runs in the child pipeline (whose source is always parent_pipeline), nowhere else, and
    # a newer pipeline of the MR may cancel it.
    assert job["rules"] == [{"if": '$CI_PIPELINE_SOURCE == "parent_pipeline"'}]
    assert job["interruptible"] is True


def test_a_child_pipeline_made_in_a_job_names_its_parent(tmp_path):
    space = tmp_path / "space.yml"
    space.write_text(SPACE)
    args = ("tune", "matrix", "--space", str(space), "--format", "child", "--script", "true")
    in_job = mlflow_gitlab(*args, env=ci_envs.merge_request(CI_PIPELINE_ID="1011"), check=True)
    (job,) = yaml.safe_load(in_job.stdout).values()
    # its runs are tagged as the parent's, whose report and release compare them
    assert job["variables"]["PARENT_PIPELINE_ID"] == "1011"
    on_a_laptop = mlflow_gitlab(*args, env={"PATH": os.environ["PATH"]}, check=True)
    (job,) = yaml.safe_load(on_a_laptop.stdout).values()
    assert "PARENT_PIPELINE_ID" not in job["variables"]


def test_matrix_job_names_past_gitlabs_255_characters_are_refused():
    value = "x" * 120
    ok_space = f"parameters:\n  A: ['{value}']\n  B: ['{value}']\n"
    text, _ = fan_out(ok_space, job_name="tune")  # "tune: [x..., x...]" is 248 characters
    assert value in text
    with pytest.raises(SearchSpaceError, match=r"has 257 characters, more than the 255"):
        fan_out(ok_space, job_name="mlflow-tune", fmt="child", script=["true"])


def test_cli_refuses_a_too_long_job_name_in_one_line(tmp_path):
    space = tmp_path / "space.yml"
    space.write_text("parameters:\n  A: ['" + "y" * 260 + "']\n")
    result = mlflow_gitlab("tune", "matrix", "--space", str(space), env=os.environ, timeout=60)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.startswith("error: the job name tune: [yyy")
    assert "hint: shorten the values" in result.stderr and "Traceback" not in result.stderr


def test_inputs_format_feeds_the_tune_component():
    text = render(plan(load_space(SPACE).parameters), "inputs")
    inputs = yaml.safe_load(text)
    assert inputs["matrix-keys"] == "LEARNING_RATE,N_ESTIMATORS,OPTIMIZER"
    assert all(isinstance(v, str) for entry in inputs["matrix"] for vs in entry.values()
               for v in vs)  # GitLab matrix values are strings


def test_cli_prints_the_block_and_fails_in_one_line_past_the_limit(tmp_path):
    space = tmp_path / "space.yml"
    space.write_text(SPACE)
    ok = mlflow_gitlab("tune", "matrix", "--space", str(space), env=os.environ, timeout=60)
    assert ok.returncode == 0, ok.stderr
    assert yaml.safe_load(ok.stdout)["parallel"]["matrix"][0]["OPTIMIZER"] == ["adam", "sgd"]
    assert "12 jobs" in ok.stderr
    too_many = mlflow_gitlab("tune", "matrix", "--space", str(space), "--max-jobs", "5",
                             env=os.environ, timeout=60)
    assert too_many.returncode == 2 and too_many.stdout == ""
    assert too_many.stderr.startswith("error: the grid has 12 combinations")
    assert "Traceback" not in too_many.stderr
