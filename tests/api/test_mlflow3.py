"""MLflow 3 (and 2.x) clients log, autolog and load scikit-learn models on GitLab via the relay.

The sandbox, like GitLab (`lib/api/ml/mlflow/`), has no `logged-models` or `runs/log-inputs`
endpoints; these tests pass only because the relay bridges them.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from mlflow_gitlab.tracking.signatures import parse_mlmodel
from tests import ci_envs
from tests.api.relay_env import job_env, standalone_relay
from tests.cli import home, mlflow_gitlab

ROOT = Path(__file__).resolve().parents[2]
# MLflow 2.x clients with mlflow-gitlab installed beside them, as in a job: the newest 2.x
# and the oldest the package supports (`mlflow-skinny>=2.16`). `make compat` builds both.
MLFLOW2 = [pytest.param(ROOT / ".venv-mlflow2" / "bin" / "python", id="newest-2.x"),
           pytest.param(ROOT / ".venv-mlflow-oldest" / "bin" / "python", id="oldest-2.16")]


def mlflow2(python: Path) -> str:
    if not python.exists():
        pytest.fail(f"{python} is missing: build it with `make compat`")
    return str(python)

DATA = """
import numpy as np, pandas as pd
X = pd.DataFrame({"a": np.arange(20.0), "b": np.arange(20.0)[::-1]})
y = (X.a > 9).astype(int)
"""
TRAIN = DATA + textwrap.dedent("""
    import json, sys, mlflow
    from mlflow.models import infer_signature
    from sklearn.linear_model import LogisticRegression
    MLFLOW3 = int(mlflow.__version__.split(".")[0]) >= 3
    with mlflow.start_run() as run:
        mlflow.sklearn.autolog()
        model = LogisticRegression().fit(X, y)
        mlflow.sklearn.autolog(disable=True)
        mlflow.log_input(mlflow.data.from_pandas(X, name="train"), context="training")
        info = mlflow.sklearn.log_model(
            model, **({"name": "model"} if MLFLOW3 else {"artifact_path": "model"}),
            signature=infer_signature(X, model.predict(X)), input_example=X.head(3))
    json.dump({"uri": info.model_uri, "run_id": run.info.run_id,
               "predictions": model.predict(X).tolist()}, open(sys.argv[1], "w"))
""")
LOAD = DATA + textwrap.dedent("""
    import json, sys, mlflow
    trained = json.load(open(sys.argv[1]))
    by_uri = mlflow.sklearn.load_model(trained["uri"])
    by_run = mlflow.sklearn.load_model(f"runs:/{trained['run_id']}/model")
    inputs = mlflow.get_run(trained["run_id"]).inputs.dataset_inputs
    json.dump({"by_uri": by_uri.predict(X).tolist(), "by_run": by_run.predict(X).tolist(),
               "inputs": sorted(i.dataset.name for i in inputs)}, open(sys.argv[2], "w"))
""")


def train_and_load(sandbox, tmp_path: Path, python: str) -> tuple[dict, dict]:
    """Train inside `mlflow-gitlab run`, load in another process through `mlflow-gitlab
    relay`; return what each wrote."""
    (tmp_path / "train.py").write_text(TRAIN)
    (tmp_path / "load.py").write_text(LOAD)
    trained_file, loaded_file = tmp_path / "trained.json", tmp_path / "loaded.json"
    env = job_env(sandbox)
    result = mlflow_gitlab("run", "--", python, "train.py", str(trained_file), cwd=tmp_path,
                           timeout=180, env=env)
    assert result.returncode == 0, result.stderr
    relay_env = {"PATH": os.environ["PATH"], "HOME": home(),
                 "MLFLOW_TRACKING_URI": sandbox.tracking_uri,
                 "MLFLOW_TRACKING_TOKEN": sandbox.tokens["developer"]}
    with standalone_relay(relay_env) as uri:
        loader_env = {"PATH": os.environ["PATH"], "HOME": home(),
                      "MLFLOW_TRACKING_URI": uri}
        loaded = subprocess.run([python, "load.py", str(trained_file), str(loaded_file)],
                                env=loader_env, cwd=tmp_path, capture_output=True, text=True,
                                timeout=180)
        assert loaded.returncode == 0, loaded.stderr
    return json.loads(trained_file.read_text()), json.loads(loaded_file.read_text())


def package_files(api, sandbox, run_id: str, mlflow_client) -> tuple[str, list[str]]:
    ref = mlflow_client.get_run(run_id).info.artifact_uri.rpartition("/")[2]
    listed = api.request("GET", sandbox.tracking_uri + "/api/2.0/mlflow-artifacts/artifacts",
                         params={"path": ref}).json()["files"]
    return ref, [f["path"] for f in listed]


def test_mlflow3_logs_autologs_and_loads_a_model_with_its_signature(
        sandbox, api, mlflow_client, tmp_path):
    trained, loaded = train_and_load(sandbox, tmp_path, sys.executable)
    assert trained["uri"].startswith("models:/m-")
    assert loaded["by_uri"] == trained["predictions"] == loaded["by_run"]
    assert loaded["inputs"] == ["dataset", "train"]  # autolog's and log_input's
    run_id = trained["run_id"]
    ref, names = package_files(api, sandbox, run_id, mlflow_client)
    # autolog's model in model/, the explicit one next to it: each id keeps its own files
    explicit = next(n.split("%2F")[0] for n in names if n.startswith("model-"))
    assert {"model%2FMLmodel", f"{explicit}%2FMLmodel", f"{explicit}%2Finput_example.json",
            f"{explicit}%2Frequirements.txt"} <= set(names)
    mlmodel = api.request("GET", f"/projects/{sandbox.project_id}/packages/ml_models/{ref}/"
                                 f"files/{explicit}/MLmodel").text
    signature = parse_mlmodel(mlmodel)  # what `release` compares versions with
    assert [c.name for c in signature.inputs] == ["a", "b"]
    run = mlflow_client.get_run(run_id)
    model_id = trained["uri"].removeprefix("models:/")
    assert run.data.tags[f"mlflow-gitlab.model.{model_id}.status"] == "READY"
    assert json.loads(run.data.tags[f"mlflow-gitlab.model.{model_id}"])["path"] == explicit
    assert any(k.startswith("mlflow-gitlab.dataset.train.") for k in run.data.tags)
    # autolog's points were logged again for the new model: GitLab holds them once
    assert len(mlflow_client.get_metric_history(run_id, "training_score")) == 1


@pytest.mark.compat
@pytest.mark.parametrize("python", MLFLOW2)
def test_mlflow2_logs_autologs_and_loads_a_model_through_the_relay(
        sandbox, api, mlflow_client, tmp_path, python):
    trained, loaded = train_and_load(sandbox, tmp_path, mlflow2(python))
    assert trained["uri"] == f"runs:/{trained['run_id']}/model"
    assert loaded["by_uri"] == trained["predictions"] == loaded["by_run"]
    assert loaded["inputs"] == ["dataset", "train"]
    ref, names = package_files(api, sandbox, trained["run_id"], mlflow_client)
    assert {"model%2FMLmodel", "model%2Finput_example.json"} <= set(names)
    mlmodel = api.request("GET", f"/projects/{sandbox.project_id}/packages/ml_models/{ref}/"
                                 "files/model/MLmodel").text
    assert [c.name for c in parse_mlmodel(mlmodel).inputs] == ["a", "b"]


# --- `release` reads what `log_model` stored -----------------------------------------------

RETRAIN = textwrap.dedent("""
    import sys, mlflow, numpy as np, pandas as pd
    from mlflow.models import infer_signature
    from sklearn.linear_model import LogisticRegression
    columns = sys.argv[1].split(",")
    X = pd.DataFrame({c: np.arange(20.0) * (i + 1) for i, c in enumerate(columns)})
    y = (X[columns[0]] > 9).astype(int)
    with mlflow.start_run():
        model = LogisticRegression().fit(X, y)
        mlflow.log_metric("loss", 0.25)
        name = {"name": "model"} if int(mlflow.__version__[0]) >= 3 else {"artifact_path": "model"}
        mlflow.sklearn.log_model(model, signature=infer_signature(X, model.predict(X)), **name)
""")


def train_then_release(sandbox, api, tmp_path: Path, python: str, columns: str):
    """One branch pipeline: `run` trains and logs a model with these input columns through
    the relay (no outputs package), then `release` runs in the next job."""
    pipeline = api.admin("POST", "/-/sandbox/pipelines", json={
        "jobs": [{"name": "train", "status": "running"},
                 {"name": "release", "status": "running"}]}).json()
    train, release_job = pipeline["jobs"]
    (tmp_path / "retrain.py").write_text(RETRAIN)

    def env(job: dict) -> dict[str, str]:
        return {**ci_envs.branch(), **{
            "PATH": os.environ["PATH"], "HOME": home(),
            "MLFLOW_TRACKING_TOKEN": sandbox.tokens["developer"],
            "CI_SERVER_URL": sandbox.url, "CI_API_V4_URL": sandbox.api_url,
            "CI_PIPELINE_ID": str(pipeline["pipeline_id"]),
            "CI_PIPELINE_IID": str(pipeline["iid"]), "CI_JOB_ID": str(job["id"]),
            "CI_JOB_NAME": job["name"], "CI_JOB_TOKEN": job["token"],
            "CI_COMMIT_MESSAGE": "Retrain", "CI_PROJECT_NAME": "demo-project"}}

    trained = mlflow_gitlab("run", "--", python, "retrain.py", columns, cwd=tmp_path,
                            timeout=180, env=env(train))
    assert trained.returncode == 0, trained.stderr
    return mlflow_gitlab("release", "--model", "churn", "--metric", "loss",
                         "--mode", "min", cwd=tmp_path, env=env(release_job))


def released_versions(api) -> dict[str, dict]:
    body = api.mlflow("GET", "registered-models/get", params={"name": "churn"}).json()
    return {v["aliases"][0]: {**v, "tags": {t["key"]: t["value"] for t in v["tags"]}}
            for v in body["registered_model"]["latest_versions"]}


def check_release_reads_logged_models(sandbox, api, tmp_path: Path, python: str) -> None:
    first = train_then_release(sandbox, api, tmp_path, python, "a,b")
    assert first.returncode == 0, first.stderr
    version = released_versions(api)["1.0.0"]
    assert version["tags"]["mlflow-gitlab.source.package"].startswith("candidate:")
    assert version["tags"]["mlflow-gitlab.model_path"] == "model"
    files = f"/projects/{sandbox.project_id}/packages/ml_models/{version['version']}/files/"
    copied = parse_mlmodel(api.request("GET", files + "MLmodel").text)
    assert [c.name for c in copied.inputs] == ["a", "b"]
    # Every file of the logged model, byte for byte, with MLmodel at the top.
    manifest = json.loads(api.request("GET", files + "manifest.json").text)
    run_files = f"/projects/{sandbox.project_id}/packages/ml_models/" \
                f"{version['tags']['mlflow-gitlab.source.package']}/files/model/"
    assert {"MLmodel", "requirements.txt", "python_env.yaml"} <= {
        f["path"] for f in manifest["files"]}
    for entry in manifest["files"]:
        copied, source = (api.request("GET", where + entry["path"]).content
                          for where in (files, run_files))
        assert copied == source
        assert hashlib.sha256(copied).hexdigest() == entry["sha256"]

    # A new required input column breaks callers: `release` reads both signatures, the
    # released version's and the new run's, and bumps the major version.
    second = train_then_release(sandbox, api, tmp_path, python, "a,b,c")
    assert second.returncode == 0, second.stderr
    newest = released_versions(api)["2.0.0"]["tags"]
    assert newest["mlflow-gitlab.bump"] == "major"
    assert newest["mlflow-gitlab.bump_source"] == "signature"
    assert "c" in newest["mlflow-gitlab.bump_reasons"]


@pytest.mark.slow
def test_release_reads_the_signature_mlflow3_logged(sandbox, api, tmp_path):
    check_release_reads_logged_models(sandbox, api, tmp_path, sys.executable)


@pytest.mark.compat
@pytest.mark.parametrize("python", MLFLOW2)
def test_release_reads_the_signature_mlflow2_logged(sandbox, api, tmp_path, python):
    check_release_reads_logged_models(sandbox, api, tmp_path, mlflow2(python))


STORE = ("import mlflow\n"
         "from mlflow.tracking._tracking_service.utils import _get_store\n"
         "print(type(_get_store(mlflow.get_tracking_uri())).__name__)\n")


@pytest.mark.compat
@pytest.mark.parametrize("python", MLFLOW2)
def test_the_store_plugin_journals_in_runs_child_only(sandbox, tmp_path, python):
    """Installed next to an MLflow 2.x client, the plugin builds the journaling store in
    `run`'s child and leaves MLflow's own store to every other process."""
    python = mlflow2(python)
    (tmp_path / "store.py").write_text(STORE)
    inside = mlflow_gitlab("run", "--", python, "store.py", cwd=tmp_path, env=job_env(sandbox))
    assert inside.returncode == 0, inside.stderr
    assert inside.stdout.split()[-1] == "JournalingRestStore"
    outside = subprocess.run([python, "store.py"], cwd=tmp_path, capture_output=True,
                             text=True, timeout=60, env={
                                 "PATH": os.environ["PATH"], "HOME": home(),
                                 "MLFLOW_TRACKING_URI": sandbox.tracking_uri})
    assert outside.returncode == 0, outside.stderr
    assert outside.stdout.split() == ["RestStore"]
