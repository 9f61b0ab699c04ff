"""`mlflow-gitlab init` as a new user runs it: every missing choice at once, a starting point
that works against the sandbox, nothing overwritten, and the steps left to the user."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import yaml

from tests.api.test_run import job_env, only_job_runs
from tests.cli import mlflow_gitlab


def init(cwd: Path, *args: str):
    return mlflow_gitlab("init", *args, env=os.environ, cwd=cwd, timeout=60)


def tune_inputs(root: Path) -> dict:
    config = yaml.safe_load((root / ".gitlab-ci.yml").read_text())
    return next(entry["inputs"] for entry in config["include"]
                if entry["component"].split("@")[0].endswith("/tune"))


def test_every_missing_choice_is_named_in_one_line_and_nothing_is_written(tmp_path):
    result = init(tmp_path)
    assert result.returncode == 2
    error, hint = result.stderr.splitlines()
    assert error.startswith("error: init needs --model NAME") and "--metric KEY" in error
    assert hint.startswith("hint: ")
    assert list(tmp_path.iterdir()) == []


def test_the_starting_point_trains_a_tracked_run_on_the_sandbox(sandbox, mlflow_client,
                                                                 tmp_path):
    tmp_path = tmp_path / "project"
    tmp_path.mkdir()
    result = init(tmp_path, "--model", "churn", "--metric", "val_loss")
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        ".gitlab-ci.yml", "requirements.txt", "space.yml", "train.py"]
    assert "wrote .gitlab-ci.yml, train.py, space.yml, requirements.txt" in result.stderr
    # what the user must do next: the token variable and where the components come from
    assert "MLFLOW_TRACKING_TOKEN" in result.stderr and "`api` scope" in result.stderr
    assert "$CI_SERVER_FQDN/mlflow-gitlab/components/<name>@" in result.stderr
    tune = tune_inputs(tmp_path)
    assert tune["requirements"] == "-r requirements.txt" and tune["artifacts"] == "outputs"
    # the matrix is space.yml's, as `tune matrix` makes it
    fan_out = mlflow_gitlab("tune", "matrix", "--space", "space.yml", "--format", "inputs",
                            env=os.environ, cwd=tmp_path, timeout=60)
    assert yaml.safe_load(fan_out.stdout)["matrix"] == tune["matrix"]
    # requirements.txt lists what train.py imports (beyond the standard library)
    imports = {line.split()[1].split(".")[0] for line in
               (tmp_path / "train.py").read_text().splitlines()
               if line.startswith(("import ", "from ")) and "__future__" not in line}
    assert imports - set(sys.stdlib_module_names) == {"mlflow"}
    assert "mlflow" in (tmp_path / "requirements.txt").read_text()

    env = {**job_env(sandbox), "LEARNING_RATE": "0.1", "EPOCHS": "20"}
    run = mlflow_gitlab("run", "--artifacts", "outputs", "--", sys.executable, "train.py",
                        env=env, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    (logged,), _ = only_job_runs(mlflow_client)
    assert logged.data.params == {"learning_rate": "0.1", "epochs": "20"}
    assert set(logged.data.metrics) == {"train_loss", "val_loss"}
    assert logged.data.tags["mlflow-gitlab.package.version"] == logged.info.run_id


def test_existing_files_are_kept_and_used(tmp_path):
    files = {"train.py": "print('mine')\n", "requirements.txt": "torch\n",
             "space.yml": "parameters:\n  DEPTH: [3, 5]\n"}
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    result = init(tmp_path, "--model", "churn", "--metric", "auc", "--mode", "max")
    assert result.returncode == 0, result.stderr
    assert {name: (tmp_path / name).read_text() for name in files} == files
    assert "kept your train.py, space.yml, requirements.txt" in result.stderr
    tune = tune_inputs(tmp_path)
    assert tune["matrix"] == [{"DEPTH": ["3", "5"]}]
    assert tune["requirements"] == "-r requirements.txt"
    assert "artifacts" not in tune  # their train.py saves where it likes


def test_printing_the_configuration_writes_no_file(tmp_path):
    result = init(tmp_path, "--model", "churn", "--metric", "auc", "--output", "-")
    assert result.returncode == 0, result.stderr
    assert yaml.safe_load(result.stdout)["include"]
    assert list(tmp_path.iterdir()) == []


def test_a_max_metric_is_logged_as_a_score_where_higher_is_better(tmp_path):
    result = init(tmp_path, "--model", "churn", "--metric", "val_auc", "--mode", "max")
    assert result.returncode == 0, result.stderr
    source = (tmp_path / "train.py").read_text()
    compile(source, "train.py", "exec")
    assert "mlflow.log_metric('val_auc', score)" in source
