"""A released model loads inside `mlflow-gitlab run` and under `mlflow-gitlab relay`, by
every URI form GitLab supports: `models:/<name>/<semver>`, `@<semver>`, `latest`, the
version's id, and `runs:/<run_id>/model`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.api.relay_env import job_env, standalone_relay
from tests.api.test_release_run_files import RunFilesLab
from tests.cli import home, mlflow_gitlab

DATA = """
import json, sys
import numpy as np, pandas as pd, mlflow
X = pd.DataFrame({"a": np.arange(20.0), "b": np.arange(20.0)[::-1]})
"""
# Saved in MLflow 3's default format for scikit-learn, skops; a tree model's type is trusted
# when it is saved, and loads with nothing more.
SAVE = DATA + textwrap.dedent("""
    from sklearn.ensemble import GradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    y = (X.a > 9).astype(int)
    if sys.argv[2] == "up":
        model, trusted = LogisticRegression().fit(X, y), None
    else:
        model, trusted = GradientBoostingClassifier().fit(X, 1 - y), ["sklearn.tree._tree.Tree"]
    mlflow.sklearn.save_model(model, sys.argv[1], skops_trusted_types=trusted)
    json.dump(model.predict(X).tolist(), open(sys.argv[1] + ".json", "w"))
""")
EVALUATE = DATA + textwrap.dedent("""
    from mlflow.exceptions import MlflowException
    found = {}
    for uri in sys.argv[2:]:
        try:
            found[uri] = mlflow.pyfunc.load_model(uri).predict(X).tolist()
        except MlflowException as exc:
            found[uri] = "error: " + exc.message
    json.dump(found, open(sys.argv[1], "w"))
""")


@pytest.fixture
def lab(sandbox, api, tmp_path, monkeypatch) -> RunFilesLab:
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", sandbox.tokens["developer"])
    monkeypatch.setenv("MLFLOW_GITLAB_RETRY_ATTEMPTS", "2")
    return RunFilesLab(sandbox, api, tmp_path)


def released(lab: RunFilesLab, direction: str, folder: Path) -> tuple[str, list[int]]:
    """Train a model, log its files in a run as `log_model` does, release it; (run id,
    its predictions)."""
    script = folder.parent / "save.py"
    script.write_text(SAVE)
    subprocess.run([sys.executable, str(script), str(folder), direction], check=True,
                   capture_output=True, timeout=120)
    files = {f"model/{p.name}": p.read_bytes() for p in folder.iterdir() if p.is_file()}
    pipeline = lab.pipeline()
    run_id = lab.logged(pipeline, files)
    lab.release(pipeline)
    return run_id, json.loads(Path(f"{folder}.json").read_text())


def evaluate(python_env: dict[str, str], tmp_path: Path, uris: list[str], *,
             run: bool) -> dict[str, object]:
    script, out = tmp_path / "evaluate.py", tmp_path / "found.json"
    script.write_text(EVALUATE)
    command = [sys.executable, str(script), str(out), *uris]
    if run:
        result = mlflow_gitlab("run", "--", *command, env=python_env, cwd=tmp_path, timeout=240)
    else:
        result = subprocess.run(command, env=python_env, cwd=tmp_path, capture_output=True,
                                text=True, timeout=240)
    assert result.returncode == 0, result.stderr
    return json.loads(out.read_text())


def test_released_versions_load_by_every_uri_form_through_the_relay(lab, sandbox, tmp_path):
    first_run, first = released(lab, "up", tmp_path / "first")
    _, second = released(lab, "down", tmp_path / "second")
    assert first != second
    versions = lab.versions()
    assert set(versions) == {"1.0.0", "1.0.1"}
    expected = {"models:/churn/1.0.0": first, "models:/churn@1.0.0": first,
                "models:/churn/1.0.1": second, "models:/churn/latest": second,
                f"models:/churn/{versions['1.0.0']['version']}": first,
                f"runs:/{first_run}/model": first}
    missing = "models:/churn/9.9.9"
    uris = [*expected, missing]

    inside_run = evaluate(job_env(sandbox), tmp_path, uris, run=True)
    relay_env = {"PATH": os.environ["PATH"], "HOME": home(),
                 "MLFLOW_TRACKING_URI": sandbox.tracking_uri,
                 "MLFLOW_TRACKING_TOKEN": sandbox.tokens["developer"]}
    with standalone_relay(relay_env) as uri:
        env = {"PATH": os.environ["PATH"], "HOME": home(), "MLFLOW_TRACKING_URI": uri}
        under_relay = evaluate(env, tmp_path, uris, run=False)

    for found in (inside_run, under_relay):
        assert {u: found[u] for u in expected} == expected
        assert found[missing] == ("error: RESOURCE_DOES_NOT_EXIST: Registered model 'churn' "
                                  "has no version 9.9.9")
