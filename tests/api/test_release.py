"""`mlflow-gitlab release` against the sandbox: selection, semver rules, overrides, the gate,
idempotent re-runs, concurrent releases and recovery from a failure halfway."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
import yaml
from mlflow.models import infer_signature
from mlflow.models.signature import ModelSignature
from mlflow.types.schema import ColSpec, Schema

from mlflow_gitlab.errors import (
    ConfigError,
    NothingToRelease,
    RegressionGateFailed,
    ReleaseError,
)
from mlflow_gitlab.gitlab_api import connect
from mlflow_gitlab.packages import package_tags, run_package, upload_paths
from mlflow_gitlab.release.flow import release
from mlflow_gitlab.release.options import ReleaseOptions
from mlflow_gitlab.settings import gitlab_settings
from tests import ci_envs
from tests.cli import home, mlflow_gitlab

MODEL = "churn"
FRAME = pd.DataFrame({"age": [31.0, 45.0], "income": [1.5, 2.5], "city": ["a", "b"]})
SCORE = pd.Series([0.1, 0.9], name="score")
PLAIN_COMMIT = "Retrain on this week's data"


def signature(frame: pd.DataFrame = FRAME, output: pd.Series = SCORE,
              optional: tuple[str, ...] = ()) -> ModelSignature:
    """A real MLflow signature; `optional` adds `required: false` double columns."""
    base = infer_signature(frame, output)
    if not optional:
        return base
    columns = [*base.inputs.inputs, *(ColSpec("double", n, required=False) for n in optional)]
    return ModelSignature(inputs=Schema(columns), outputs=base.outputs)


@dataclass
class Pipeline:
    id: int
    iid: int
    train_job: int
    release_job: int
    release_token: str


class Lab:
    """Stages what CI would have made: pipelines, finished training runs, their outputs."""

    def __init__(self, sandbox, api, tmp_path: Path) -> None:
        self.sandbox, self.api, self.tmp = sandbox, api, tmp_path
        r = api.mlflow("POST", "experiments/create", json={"name": "demo-project"})
        self.experiment_id = r.json()["experiment_id"]
        self.uploader = connect(gitlab_settings(
            {"MLFLOW_GITLAB_TOKEN": sandbox.tokens["developer"]}, url=sandbox.api_url,
            project="7"))

    def pipeline(self) -> Pipeline:
        body = self.api.admin("POST", "/-/sandbox/pipelines", json={
            "jobs": [{"name": "train", "status": "success"},
                     {"name": "release", "status": "running"}]}).json()
        train, rel = body["jobs"]
        return Pipeline(body["pipeline_id"], body["iid"], train["id"], rel["id"], rel["token"])

    def train(self, pipeline: Pipeline, loss: float | None = 0.2,
              sig: ModelSignature | None = None, *, status: str = "FINISHED",
              role: str | None = "job", outputs: bool = True, start_time: int | None = None,
              extra: Mapping[str, bytes] | None = None) -> str:
        """A training run of `pipeline` with `loss`, and its outputs holding an MLflow model
        (with the `extra` files in its folder)."""
        tags = {"gitlab.CI_PIPELINE_ID": str(pipeline.id),
                "gitlab.CI_JOB_ID": str(pipeline.train_job)}
        if role:
            tags["mlflow-gitlab.role"] = role
        run = self.api.mlflow("POST", "runs/create", json={
            "experiment_id": self.experiment_id, "run_name": f"train-{pipeline.iid}",
            "start_time": start_time or int(time.time() * 1000),
            "tags": [{"key": k, "value": v} for k, v in tags.items()]}).json()["run"]
        run_id = run["info"]["run_id"]
        if loss is not None:
            self.api.mlflow("POST", "runs/log-metric", json={
                "run_id": run_id, "key": "loss", "value": loss, "timestamp": 0})
        if outputs:
            self.upload_outputs(run_id, sig or signature(), extra)
        self.api.mlflow("POST", "runs/update", json={"run_id": run_id, "status": status})
        return run_id

    def upload_outputs(self, run_id: str, sig: ModelSignature,
                       extra: Mapping[str, bytes] | None = None) -> None:
        """Upload the run's outputs: an MLflow model (plus `extra` files) and a report."""
        root = self.tmp / run_id / "outputs"
        (root / "model").mkdir(parents=True)
        (root / "model" / "MLmodel").write_text(yaml.safe_dump({
            "flavors": {"python_function": {"loader_module": "mlflow.sklearn"}},
            "signature": sig.to_dict()}))
        (root / "model" / "model.pkl").write_bytes(os.urandom(3000))
        for name, data in (extra or {}).items():
            (root / "model" / name).write_bytes(data)
        (root / "report.html").write_text("<p>not part of the model</p>")
        name, version = run_package(run_id, self.experiment_id)
        result = upload_paths(self.uploader, name, version, [root])
        for key, value in package_tags(name, version, result.manifest_url).items():
            self.api.mlflow("POST", "runs/set-tag",
                            json={"run_id": run_id, "key": key, "value": value})

    def env(self, pipeline: Pipeline, make=ci_envs.branch, **extra: str) -> dict[str, str]:
        """The release job's environment, as GitLab sets it, pointed at the sandbox."""
        env = make(**{"CI_COMMIT_MESSAGE": PLAIN_COMMIT, **extra})
        env.update({
            "PATH": os.environ["PATH"], "HOME": home(),
            "CI_SERVER_URL": self.sandbox.url, "CI_API_V4_URL": self.sandbox.api_url,
            "CI_PIPELINE_ID": str(pipeline.id), "CI_PIPELINE_IID": str(pipeline.iid),
            "CI_JOB_ID": str(pipeline.release_job), "CI_JOB_NAME": "release",
            "CI_JOB_TOKEN": pipeline.release_token, "CI_PROJECT_NAME": "demo-project",
            "MLFLOW_TRACKING_TOKEN": self.sandbox.tokens["developer"],
            "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0", "MLFLOW_GITLAB_RETRY_ATTEMPTS": "2",
        })
        return env

    def release(self, pipeline: Pipeline, make=ci_envs.branch, env: dict | None = None,
                **options):
        return release(ReleaseOptions(model=MODEL, **{"metric": "loss", **options}),
                       {**self.env(pipeline, make), **(env or {})})

    def cli(self, pipeline: Pipeline, *args: str, make=ci_envs.branch, **extra: str):
        return mlflow_gitlab("release", "--model", MODEL, *args,
                             env=self.env(pipeline, make, **extra), timeout=120)

    def versions(self) -> dict[str, dict]:
        """Every version of the model by semver, with its tags as a dict."""
        r = self.api.mlflow("GET", "registered-models/get", params={"name": MODEL})
        if r.status_code == 404:
            return {}
        return {v["aliases"][0]: {**v, "tags": {t["key"]: t["value"] for t in v["tags"]}}
                for v in r.json()["registered_model"]["latest_versions"]}

    def model_file(self, version_id: str, name: str):
        return self.api.request("GET", f"/projects/7/packages/ml_models/{version_id}/files/"
                                       f"{name}")

    def released(self, sig: ModelSignature | None = None, **options) -> str:
        """Release a first version from a pipeline of its own; return its semver."""
        pipeline = self.pipeline()
        self.train(pipeline, 0.2, sig)
        return self.release(pipeline, **options).version


@pytest.fixture
def lab(sandbox, api, tmp_path, monkeypatch) -> Lab:
    # The library exports the tracking token for MLflow's client; keep it to this test.
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", sandbox.tokens["developer"])
    monkeypatch.setenv("MLFLOW_GITLAB_RETRY_ATTEMPTS", "2")
    return Lab(sandbox, api, tmp_path)


# --- the whole command --------------------------------------------------------------------


def test_first_release_picks_the_best_run_and_records_everything(lab, tmp_path):
    pipeline = lab.pipeline()
    lab.train(pipeline, 0.31)
    best = lab.train(pipeline, 0.12)
    lab.train(pipeline, 0.05, status="FAILED")  # better, but failed
    lab.train(pipeline, 0.01, role="pipeline", outputs=False)  # the pipeline's parent run
    lab.train(pipeline, 0.01, role=None, outputs=False)  # a script's nested run
    lab.train(lab.pipeline(), 0.02)  # another pipeline's run

    result = lab.cli(pipeline, "--metric", "loss", "--dotenv", str(tmp_path / "release.env"))

    assert result.returncode == 0, result.stderr
    assert result.stdout == "1.0.0\n"
    version = lab.versions()["1.0.0"]
    tags = version["tags"]
    assert tags["gitlab.version"] == "1.0.0"
    assert tags["gitlab.CI_PIPELINE_ID"] == str(pipeline.id)
    assert tags["gitlab.CI_JOB_ID"] == str(pipeline.release_job)
    assert tags["mlflow.source.git.commit"] == ci_envs.SHA
    assert tags["mlflow-gitlab.source.run_id"] == best
    assert tags["mlflow-gitlab.metric.loss"] == "0.12"
    assert tags["mlflow-gitlab.selected_by"] == "min loss"
    assert tags["mlflow-gitlab.bump"] == "initial"
    assert tags["mlflow-gitlab.model_path"] == "outputs/model"
    assert version["description"].startswith(f"Released from run train-{pipeline.iid}")
    # The model folder's files, MLmodel at the top, and the manifest that completes it.
    assert "signature" in lab.model_file(version["version"], "MLmodel").text
    assert lab.model_file(version["version"], "model.pkl").status_code == 200
    assert lab.model_file(version["version"], "report.html").status_code == 404
    assert '"path": "MLmodel"' in lab.model_file(version["version"], "manifest.json").text
    env_file = (tmp_path / "release.env").read_text()
    assert "MODEL_NAME=churn\nMODEL_VERSION=1.0.0\n" in env_file
    assert f"MODEL_SOURCE_RUN_ID={best}\n" in env_file
    assert "MODEL_PRERELEASE=false\n" in env_file
    assert "released churn 1.0.0" in result.stderr


def test_nothing_to_release_exits_0_or_3_under_strict(lab):
    pipeline = lab.pipeline()
    lab.train(pipeline, None)  # no loss logged
    result = lab.cli(pipeline, "--metric", "loss")
    assert (result.returncode, result.stdout) == (0, "")
    assert "nothing to release: no finished job run of this pipeline logged the metric" \
        in result.stderr
    strict = lab.cli(pipeline, "--metric", "loss", "--strict")
    assert strict.returncode == 3
    assert strict.stderr.splitlines() == [
        "error: no finished job run of this pipeline logged the metric 'loss'",
        "hint: job runs are those `mlflow-gitlab run` made; pass --run to release another"]
    assert lab.versions() == {}


def test_several_runs_and_no_metric_is_a_clear_error(lab):
    pipeline = lab.pipeline()
    lab.train(pipeline, 0.3)
    lab.train(pipeline, 0.2)
    with pytest.raises(ReleaseError) as info:
        lab.release(pipeline, metric=None)
    assert str(info.value) == "2 runs of this pipeline could be released"
    assert info.value.hint == "pass --metric (and --mode) to pick the best, or --run"


def test_explicit_run_and_max_mode(lab):
    pipeline = lab.pipeline()
    chosen = lab.train(pipeline, 0.9)
    lab.train(pipeline, 0.1)
    assert lab.release(pipeline, run_id=chosen).source_run_id == chosen
    other = lab.pipeline()
    lab.train(other, 0.5)
    best = lab.train(other, 0.7)
    assert lab.release(other, mode="max").source_run_id == best


def test_a_missing_experiment_or_an_unfinished_run(lab):
    pipeline = lab.pipeline()
    with pytest.raises(NothingToRelease, match="experiment 'elsewhere' does not exist"):
        lab.release(pipeline, experiment="elsewhere")
    running = lab.train(pipeline, status="RUNNING")
    with pytest.raises(ReleaseError, match=f"run {running} is RUNNING, not FINISHED"):
        lab.release(pipeline, run_id=running)
    with pytest.raises(ReleaseError, match="run nope was not found"):
        lab.release(pipeline, run_id="nope")


def test_selection_stops_paging_at_the_pipeline_start(lab):
    pipeline = lab.pipeline()
    now = int(time.time() * 1000)
    lab.train(pipeline, 0.01, start_time=now - 3_600_000)  # before the pipeline: not seen
    recent = lab.train(pipeline, 0.2, start_time=now)
    created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now / 1000 - 60))
    result = lab.release(pipeline, env={"CI_PIPELINE_CREATED_AT": created})
    assert result.source_run_id == recent


# --- bump rules, with real MLflow signatures ----------------------------------------------


@pytest.mark.parametrize(("new", "expected", "reason"), [
    (signature(FRAME[["city", "income", "age"]]), "1.0.1", "same signature"),
    (signature(optional=("height",)), "1.1.0", "new optional input 'height'"),
    (signature(FRAME.drop(columns="city")), "2.0.0", "input 'city' removed"),
    (signature(FRAME.assign(city=[1.0, 2.0])), "2.0.0",
     "input 'city' retyped from string to double"),
    (signature(FRAME.assign(height=[1.7, 1.8])), "2.0.0", "new required input 'height'"),
    (signature(output=pd.Series(["x", "y"], name="score")), "2.0.0", "outputs changed"),
])
def test_bump_follows_the_signature(lab, new, expected, reason):
    assert lab.released() == "1.0.0"
    pipeline = lab.pipeline()
    lab.train(pipeline, 0.2, new)
    assert lab.release(pipeline).version == expected
    tags = lab.versions()[expected]["tags"]
    assert (tags["mlflow-gitlab.bump_source"], tags["mlflow-gitlab.bump_reasons"]) == \
        ("signature", reason)
    assert tags["mlflow-gitlab.previous_version"] == "1.0.0"


def test_a_model_name_gitlab_refuses_is_a_clear_error(lab):
    pipeline = lab.pipeline()
    lab.train(pipeline)
    with pytest.raises(ConfigError, match="model name 'bad name!' is not valid on GitLab"):
        release(ReleaseOptions(model="bad name!", metric="loss"), lab.env(pipeline))
    assert lab.versions() == {}  # refused before anything was sent


def test_configured_first_version(lab):
    assert lab.released(initial_version="0.1.0") == "0.1.0"


# --- overrides ----------------------------------------------------------------------------


def test_commit_trailer_overrides_the_signature(lab):
    lab.released()
    pipeline = lab.pipeline()
    lab.train(pipeline)
    message = "Retrain\n\nModel-Bump: major\nSigned-off-by: Dana"
    result = lab.release(pipeline, env={"CI_COMMIT_MESSAGE": message})
    assert result.version == "2.0.0"
    assert lab.versions()["2.0.0"]["tags"]["mlflow-gitlab.bump_source"] == \
        "commit trailer Model-Bump"


def test_bump_flag_overrides_a_breaking_signature(lab, caplog):
    lab.released()
    pipeline = lab.pipeline()
    lab.train(pipeline, 0.2, signature(FRAME.drop(columns="city")))
    assert lab.release(pipeline, bump="minor").version == "1.1.0"
    assert "--bump asks for a minor bump, below the major bump" in caplog.text


def test_merge_requests_release_only_prereleases_when_asked(lab):
    lab.released()
    pipeline = lab.pipeline()
    lab.train(pipeline)
    mr = ci_envs.merge_request
    with pytest.raises(NothingToRelease, match="merge-request pipelines release only"):
        lab.release(pipeline, make=mr)
    # The seed MR carries the `model::minor` label: it wins over the same signature.
    assert lab.release(pipeline, make=mr, prerelease=True).version == "1.1.0-mr.1.1"
    tags = lab.versions()["1.1.0-mr.1.1"]["tags"]
    assert (tags["gitlab.CI_MERGE_REQUEST_IID"], tags["mlflow-gitlab.bump_source"]) == \
        ("1", "label model::minor")
    again = lab.pipeline()
    lab.train(again)
    result = lab.release(again, make=mr, prerelease=True,
                         env={"CI_MERGE_REQUEST_LABELS": "ml,model::major"})
    assert (result.version, result.prerelease) == ("2.0.0-mr.1.1", True)
    third = lab.pipeline()
    lab.train(third)
    assert lab.release(third, make=mr, prerelease=True).version == "1.1.0-mr.1.2"
    # Prereleases never count as the latest release.
    assert lab.released() == "1.0.1"


def test_the_merged_mrs_label_drives_the_default_branch_release(lab, api):
    """After MR !1 (labelled `model::minor`) is merged, the default-branch pipeline of its
    merge commit has no MR variables: GitLab's commit-to-MR list finds the label."""
    lab.released()
    r = api.admin("POST", "/-/sandbox/merge_requests/1/merge",
                  json={"merge_commit_sha": ci_envs.SHA})
    assert r.status_code == 200, r.text
    pipeline = lab.pipeline()
    lab.train(pipeline)  # the same signature: a patch, were it not for the label
    result = lab.cli(pipeline, "--metric", "loss")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "1.1.0\n"
    tags = lab.versions()["1.1.0"]["tags"]
    assert tags["mlflow-gitlab.bump_source"] == "label model::minor of !1"
    # An MR merged into another branch does not count.
    other = api.admin("POST", "/-/sandbox/merge_requests", json={
        "title": "Into release", "source_branch": "fix", "target_branch": "release-1",
        "labels": ["model::major"]}).json()
    api.admin("POST", f"/-/sandbox/merge_requests/{other['iid']}/merge",
              json={"merge_commit_sha": ci_envs.SOURCE_SHA})
    later = lab.pipeline()
    lab.train(later)
    assert lab.release(later, env={"CI_COMMIT_SHA": ci_envs.SOURCE_SHA}).version == "1.1.1"


def test_the_merged_mr_cannot_be_read_is_a_warning(lab, caplog):
    lab.released()
    pipeline = lab.pipeline()
    lab.train(pipeline)
    lab.sandbox.inject("GET", r"/repository/commits/", status=403, times=10,
                       body={"message": "403 Forbidden"})
    assert lab.release(pipeline).version == "1.0.1"  # the signature decides
    assert "the model:: label of the merged merge request does not apply" in caplog.text


def test_invalid_override_fails_before_anything_is_made(lab):
    lab.released()
    pipeline = lab.pipeline()
    lab.train(pipeline)
    with pytest.raises(ConfigError) as info:
        lab.release(pipeline, env={"CI_COMMIT_MESSAGE": "x\n\nModel-Bump: huge"})
    assert str(info.value) == "commit trailer Model-Bump: 'huge' is not major, minor or patch"
    assert info.value.exit_code == 2
    assert set(lab.versions()) == {"1.0.0"}


# --- the regression gate ------------------------------------------------------------------


def test_gate_refuses_a_worse_candidate_with_exit_code_4(lab):
    lab.released()  # loss 0.2
    pipeline = lab.pipeline()
    lab.train(pipeline, 0.25)
    result = lab.cli(pipeline, "--metric", "loss", "--max-regression", "10%")
    assert result.returncode == 4
    assert result.stderr.splitlines()[-2:] == [
        "error: loss=0.25 is worse than churn 1.0.0's 0.2 by 0.05 (25.0%), more than "
        "--max-regression 10.00% allows; nothing released",
        "hint: improve the model, or raise --max-regression to accept it"]
    assert set(lab.versions()) == {"1.0.0"}
    assert lab.release(pipeline, max_regression="0.06").version == "1.0.1"


def test_gate_lets_a_better_or_slightly_worse_candidate_through(lab):
    lab.released()
    pipeline = lab.pipeline()
    lab.train(pipeline, 0.21)
    assert lab.release(pipeline, max_regression="5%").version == "1.0.1"
    with pytest.raises(RegressionGateFailed):
        worse = lab.pipeline()
        lab.train(worse, 0.9, signature(FRAME.drop(columns="city")))
        lab.release(worse, max_regression="0.1")


# --- idempotency, concurrency, recovery ---------------------------------------------------


def test_rerunning_the_release_job_returns_the_same_version(lab):
    pipeline = lab.pipeline()
    lab.train(pipeline)
    first = lab.release(pipeline)
    retried = lab.release(pipeline, env={"CI_JOB_ID": str(pipeline.train_job)})  # new job id
    assert (first.version, first.created) == ("1.0.0", True)
    assert (retried.version, retried.created, retried.completed) == ("1.0.0", False, False)
    assert set(lab.versions()) == {"1.0.0"}


def test_eight_concurrent_releases_make_eight_distinct_versions(lab, caplog):
    caplog.set_level("INFO", logger="mlflow_gitlab")
    pipelines = [lab.pipeline() for _ in range(8)]
    for pipeline in pipelines:
        lab.train(pipeline)
    results, errors = {}, []

    def go(pipeline: Pipeline) -> None:
        try:
            results[pipeline.id] = lab.release(pipeline).version
        except Exception as exc:  # collected: the assertion below shows them
            errors.append(exc)

    threads = [threading.Thread(target=go, args=(p,)) for p in pipelines]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    assert sorted(results.values(), key=lambda v: int(v.split(".")[2])) == \
        [f"1.0.{n}" for n in range(8)]  # one of them made the model and its first version
    versions = lab.versions()
    assert {versions[v]["tags"]["gitlab.CI_PIPELINE_ID"] for v in results.values()} == \
        {str(p.id) for p in pipelines}
    assert "was taken by a concurrent release; deciding again" in caplog.text


def test_a_failed_copy_leaves_an_incomplete_version_that_a_retry_completes(lab, sandbox):
    pipeline = lab.pipeline()
    lab.train(pipeline)
    sandbox.inject("PUT", r"/packages/ml_models/\d+/files/model\.pkl", status=500, times=2)
    with pytest.raises(ReleaseError, match="was created but copying its files failed") as info:
        lab.release(pipeline)
    assert "re-run the release job" in info.value.hint
    version = lab.versions()["1.0.0"]
    assert version["description"].startswith("INCOMPLETE: copying its files failed")
    assert lab.model_file(version["version"], "manifest.json").status_code == 404

    retried = lab.release(pipeline)
    assert (retried.version, retried.created, retried.completed) == ("1.0.0", False, True)
    version = lab.versions()["1.0.0"]
    assert version["description"].startswith("Released from run")
    assert lab.model_file(version["version"], "manifest.json").status_code == 200
    assert lab.model_file(version["version"], "model.pkl").status_code == 200
    assert set(lab.versions()) == {"1.0.0"}


def test_a_fork_pipeline_without_the_token_releases_nothing_and_passes(lab):
    """A fork's MR pipeline runs with the fork's variables: no token, so no job turns red."""
    pipeline = lab.pipeline()
    lab.train(pipeline, 0.2)
    env = lab.env(pipeline, ci_envs.fork_merge_request)
    del env["MLFLOW_TRACKING_TOKEN"]
    result = mlflow_gitlab("release", "--model", MODEL, "--metric", "loss", "--prerelease",
                           env=env)
    assert (result.returncode, result.stdout) == (0, ""), result.stderr
    assert "nothing to release: a fork's merge-request pipeline" in result.stderr
    assert lab.versions() == {}
    strict = mlflow_gitlab("release", "--model", MODEL, "--prerelease", "--strict", env=env)
    assert strict.returncode == 3
