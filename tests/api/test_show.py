"""`mlflow-gitlab runs` and `versions` against the sandbox: what a user sees of a pipeline's
runs (order, columns, width, JSON, paging past GitLab's 1,000-run page) and of a model's
versions (semver order, source runs, pipelines and jobs)."""

from __future__ import annotations

import json
import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
import yaml
from click.testing import CliRunner

from mlflow_gitlab.cli.main import cli
from mlflow_gitlab.gitlab_api import connect
from mlflow_gitlab.packages import package_tags, run_package, upload_paths
from mlflow_gitlab.release.flow import release
from mlflow_gitlab.release.options import ReleaseOptions
from mlflow_gitlab.settings import gitlab_settings
from tests import ci_envs
from tests.cli import home, record

EXPERIMENT = "demo-project"


@pytest.fixture(autouse=True)
def _quiet_mlflow(monkeypatch):
    monkeypatch.setenv("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")


def invoke(*args: str, env: dict[str, str], code: int = 0):
    """The CLI in-process, in a fresh environment; stdout and stderr apart."""
    cleared: dict[str, str | None] = dict.fromkeys(os.environ)
    result = CliRunner().invoke(cli, list(args), env={**cleared, **env})
    record(args, result.stdout, result.stderr, env=env)
    assert result.exit_code == code, (result.stdout, result.stderr, result.exception)
    return result


def laptop(sandbox, token: str = "developer") -> dict[str, str]:
    """A shell outside CI, pointed at the project's MLflow endpoint with `token`."""
    return {"PATH": os.environ["PATH"], "HOME": home(),
            "MLFLOW_TRACKING_URI": sandbox.tracking_uri,
            "MLFLOW_TRACKING_TOKEN": sandbox.tokens[token]}


def job(sandbox, pipeline: dict, **extra: str) -> dict[str, str]:
    """A later job of `pipeline` (its report or release stage), as GitLab sets it."""
    jobs = pipeline["jobs"]
    env = ci_envs.branch(CI_COMMIT_MESSAGE="Retrain", **extra)
    env.update({
        "PATH": os.environ["PATH"], "HOME": home(),
        "CI_SERVER_URL": sandbox.url, "CI_API_V4_URL": sandbox.api_url,
        "CI_PROJECT_URL": f"{sandbox.url}/ml-team/demo-project",
        "CI_PROJECT_NAME": EXPERIMENT,
        "CI_PIPELINE_ID": str(pipeline["pipeline_id"]), "CI_PIPELINE_IID": str(pipeline["iid"]),
        "CI_JOB_ID": str(jobs[-1]["id"]), "CI_JOB_NAME": jobs[-1]["name"],
        "CI_JOB_TOKEN": jobs[-1]["token"],
        "MLFLOW_TRACKING_TOKEN": sandbox.tokens["developer"],
        "MLFLOW_GITLAB_RETRY_ATTEMPTS": "2",
    })
    return env


def new_pipeline(api, names=("train 1/3", "train 2/3", "train 3/3", "release")) -> dict:
    r = api.admin("POST", "/-/sandbox/pipelines", json={
        "jobs": [{"name": n, "status": "success" if n != "release" else "running"}
                 for n in names]})
    assert r.status_code == 201, r.text
    return r.json()


def job_run(client, experiment_id: str, pipeline: dict, job: dict, *, name: str,
            metrics: dict[str, float], params: dict[str, str], status: str = "FINISHED",
            role: str = "job") -> str:
    """A run as `mlflow-gitlab run` leaves it in one job, made by the stock client."""
    from mlflow.entities import Metric, Param

    tags = {"mlflow-gitlab.role": role, "gitlab.CI_PIPELINE_ID": str(pipeline["pipeline_id"]),
            "gitlab.CI_PIPELINE_IID": str(pipeline["iid"]), "gitlab.CI_JOB_ID": str(job["id"]),
            "gitlab.CI_JOB_NAME": job["name"], "mlflow.runName": name}
    run = client.create_run(experiment_id, run_name=name, tags=tags)
    client.log_batch(run.info.run_id, params=[Param(k, v) for k, v in params.items()],
                     metrics=[Metric(k, v, 0, 0) for k, v in metrics.items()])
    client.set_terminated(run.info.run_id, status)
    return run.info.run_id


@pytest.fixture
def lab(mlflow_client, api):
    """A pipeline of three training jobs (one failed before logging its loss), its parent
    run, and a run of another pipeline."""
    experiment_id = mlflow_client.create_experiment(EXPERIMENT)
    pipeline, other = new_pipeline(api), new_pipeline(api)
    train = pipeline["jobs"]
    parent = job_run(mlflow_client, experiment_id, pipeline, train[0], name="pipeline #1",
                     metrics={}, params={}, role="pipeline")
    ids = {
        "lr-0.1": job_run(mlflow_client, experiment_id, pipeline, train[0], name="lr-0.1",
                          metrics={"loss": 0.3, "accuracy": 0.7},
                          params={"lr": "0.1", "epochs": "10"}),
        "lr-0.01": job_run(mlflow_client, experiment_id, pipeline, train[1], name="lr-0.01",
                           metrics={"loss": 0.1, "accuracy": 0.9},
                           params={"lr": "0.01", "epochs": "10"}),
        "lr-1": job_run(mlflow_client, experiment_id, pipeline, train[2], name="lr-1",
                        metrics={"accuracy": 0.2}, params={"lr": "1", "epochs": "10"},
                        status="FAILED"),
    }
    job_run(mlflow_client, experiment_id, other, other["jobs"][0], name="elsewhere",
            metrics={"loss": 0.01}, params={"lr": "5"})
    return {"experiment_id": experiment_id, "pipeline": pipeline, "other": other,
            "parent": parent, "ids": ids}


def column(lines: list[str], header: str, *, right: bool = False) -> list[str]:
    """The cells of one column of a printed table, by the header's position (numbers are
    right-aligned: they end where their header ends)."""
    start = lines[0].index(header)
    if right:
        end = start + len(header)
        return [line[:end].split("  ")[-1].strip() for line in lines[1:]]
    return [line[start:].split("  ")[0].strip() for line in lines[1:]]


# --- runs ---------------------------------------------------------------------------------


def test_a_pipelines_runs_best_first_with_their_metrics_params_and_jobs(sandbox, lab):
    env = job(sandbox, lab["pipeline"])
    lines = invoke("runs", "--metric", "loss", env=env).stdout.splitlines()
    header = lines[0].split()
    assert header[:5] == ["#", "RUN", "STATUS", "loss", "accuracy"]
    assert header[5:] == ["PARAMS", "JOB", "RUN", "ID"]
    assert column(lines, "RUN ") == ["lr-0.01", "lr-0.1", "lr-1"]  # no metric: last
    assert column(lines, "#", right=True) == ["1", "2", "-"]
    assert column(lines, "STATUS") == ["FINISHED", "FINISHED", "FAILED"]
    assert column(lines, "loss", right=True) == ["0.1", "0.3", "-"]
    assert column(lines, "PARAMS") == ["lr=0.01", "lr=0.1", "lr=1"]  # epochs is shared
    train = lab["pipeline"]["jobs"]
    assert column(lines, "JOB") == [f"{train[1]['name']} #{train[1]['id']}",
                                    f"{train[0]['name']} #{train[0]['id']}",
                                    f"{train[2]['name']} #{train[2]['id']}"]
    assert column(lines, "RUN ID") == [lab["ids"]["lr-0.01"], lab["ids"]["lr-0.1"],
                                       lab["ids"]["lr-1"]]
    # the other pipeline's run and the parent run are not the pipeline's runs
    assert "elsewhere" not in "\n".join(lines) and "pipeline #1" not in "\n".join(lines)

    maxed = invoke("runs", "--metric", "accuracy", "--mode", "max", env=env).stdout
    assert column(maxed.splitlines(), "RUN ") == ["lr-0.01", "lr-0.1", "lr-1"]
    least = invoke("runs", "--metric", "accuracy", env=env).stdout
    assert column(least.splitlines(), "RUN ") == ["lr-1", "lr-0.1", "lr-0.01"]
    newest = invoke("runs", env=env).stdout.splitlines()
    assert newest[0].split()[:2] == ["RUN", "STATUS"]
    assert column(newest, "RUN ") == ["lr-1", "lr-0.01", "lr-0.1"]


def test_chosen_columns_and_a_narrow_terminal(sandbox, lab):
    env = job(sandbox, lab["pipeline"])
    out = invoke("runs", "--metric", "loss", "--columns",
                 "rank,name,metrics.loss,params.lr,tags.gitlab.CI_JOB_NAME", env=env).stdout
    assert out.splitlines() == [
        "#  RUN      loss  lr    gitlab.CI_JOB_NAME",
        "1  lr-0.01   0.1  0.01  train 2/3",
        "2  lr-0.1    0.3  0.1   train 1/3",
        "-  lr-1        -  1     train 3/3",
    ]
    narrow = invoke("runs", "--metric", "loss", env={**env, "COLUMNS": "60"})
    lines = narrow.stdout.splitlines()
    assert all(len(line) <= 60 for line in lines), lines
    assert "accuracy" not in lines[0] and "loss" in lines[0]
    assert narrow.stderr.strip() == ("1 column(s) left out to fit the terminal: accuracy "
                                     "(see --columns, --json)")
    assert column(lines, "RUN ") == ["lr-0.01", "lr-0.1", "lr-1"]


def test_json_holds_every_run_with_all_it_logged(sandbox, lab):
    pipeline = lab["pipeline"]
    data = json.loads(invoke("runs", "--metric", "loss", "--json",
                             env=job(sandbox, pipeline)).stdout)
    assert {k: v for k, v in data.items() if k != "runs"} == {
        "experiment": EXPERIMENT, "experiment_id": lab["experiment_id"],
        "pipeline_id": pipeline["pipeline_id"], "metric": "loss", "mode": "min"}
    best = data["runs"][0]
    assert sorted(best) == ["end_time", "job", "metrics", "name", "params", "rank", "run_id",
                            "run_url", "start_time", "status"]
    train = pipeline["jobs"][1]
    assert best["job"] == {"id": train["id"], "name": train["name"],
                           "url": f"{sandbox.url}/ml-team/demo-project/-/jobs/{train['id']}"}
    assert (best["rank"], best["name"], best["metrics"], best["params"]) == (
        1, "lr-0.01", {"loss": 0.1, "accuracy": 0.9}, {"lr": "0.01", "epochs": "10"})
    assert best["run_url"].startswith(f"{sandbox.url}/ml-team/demo-project/-/ml/candidates/")
    assert best["start_time"].endswith("Z") and best["end_time"].endswith("Z")
    assert [r["rank"] for r in data["runs"]] == [1, 2, None]


def test_another_pipeline_from_a_laptop_past_the_first_page_of_runs(sandbox, lab, api):
    """GitLab's `runs/search` answers at most 1,000 runs a page, newest first, and takes no
    filter: the pipeline's runs, older than 1,000 others, are on the second page."""
    newer = 1000
    mlflow = api.mlflow_url("runs/create")
    token = sandbox.tokens["developer"]
    now = int(time.time() * 1000)

    def filler(n: int) -> None:
        with requests.Session() as s:
            r = s.post(mlflow, headers={"Authorization": f"Bearer {token}"}, timeout=30, json={
                "experiment_id": lab["experiment_id"], "start_time": now + 1000 + n,
                "tags": [{"key": "gitlab.CI_PIPELINE_ID", "value": "999999"}]})
            assert r.ok, r.text

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(filler, range(newer)))
    first = api.mlflow("POST", "runs/search", json={
        "experiment_ids": [lab["experiment_id"]], "max_results": 5000}).json()
    assert len(first["runs"]) == 1000 and first["next_page_token"]  # GitLab's cap

    pipeline = lab["pipeline"]["pipeline_id"]
    env = laptop(sandbox)
    data = json.loads(invoke("runs", "--pipeline", str(pipeline), "--metric", "loss",
                             "--experiment", EXPERIMENT, "--json", env=env).stdout)
    assert [r["name"] for r in data["runs"]] == ["lr-0.01", "lr-0.1", "lr-1"]
    assert data["runs"][0]["job"]["url"] is None  # no project URL known outside CI
    empty = invoke("runs", "--pipeline", "999998", "--experiment", EXPERIMENT, env=env)
    assert empty.stdout == ""
    assert empty.stderr.strip() == (f"no runs of pipeline 999998 in experiment "
                                    f"'{EXPERIMENT}' ({newer + 5} runs read)")


def test_a_pipeline_without_runs_is_an_empty_answer_not_an_error(sandbox, lab, api):
    quiet = new_pipeline(api)
    env = job(sandbox, quiet)
    result = invoke("runs", "--metric", "loss", env=env)
    assert result.stdout == ""
    assert result.stderr.strip().startswith(f"no runs of pipeline {quiet['pipeline_id']} ")
    data = json.loads(invoke("runs", "--json", env=env).stdout)
    assert data["runs"] == [] and data["pipeline_id"] == quiet["pipeline_id"]


# --- versions -----------------------------------------------------------------------------


def upload_outputs(sandbox, api, experiment_id: str, run_id: str, root: Path) -> None:
    """The run's outputs package, as `run --artifacts` leaves it: an MLflow model."""
    (root / "model").mkdir(parents=True)
    (root / "model" / "MLmodel").write_text(yaml.safe_dump({"flavors": {}}))
    (root / "model" / "model.pkl").write_bytes(os.urandom(100))
    uploader = connect(gitlab_settings({"MLFLOW_GITLAB_TOKEN": sandbox.tokens["developer"]},
                                       url=sandbox.api_url, project="7"))
    name, version = run_package(run_id, experiment_id)
    result = upload_paths(uploader, name, version, [root])
    for key, value in package_tags(name, version, result.manifest_url).items():
        api.mlflow("POST", "runs/set-tag", json={"run_id": run_id, "key": key, "value": value})


def test_a_models_versions_newest_semver_first_with_their_source_runs(
        sandbox, api, mlflow_client, tmp_path):
    experiment_id = mlflow_client.create_experiment(EXPERIMENT)
    released = []
    for n, (loss, make, bump) in enumerate([(0.3, ci_envs.branch, "auto"),
                                            (0.2, ci_envs.branch, "minor"),
                                            (0.25, ci_envs.branch, "auto"),
                                            (0.1, ci_envs.merge_request, "auto")]):
        pipeline = new_pipeline(api, ("train", "release"))
        run_id = job_run(mlflow_client, experiment_id, pipeline, pipeline["jobs"][0],
                         name=f"train-{n}", metrics={"loss": loss}, params={"n": str(n)})
        upload_outputs(sandbox, api, experiment_id, run_id, tmp_path / run_id)
        env = job(sandbox, pipeline)
        if make is ci_envs.merge_request:
            env = {**make(), **{k: v for k, v in env.items() if not k.startswith(
                ("CI_COMMIT_BRANCH", "CI_PIPELINE_SOURCE"))}}
        result = release(ReleaseOptions(model="churn", metric="loss", bump=bump,
                                        prerelease=True), env)
        released.append((result.version, run_id, pipeline))
    # the merge request of the last pipeline is labelled model::minor
    assert [v for v, _, _ in released] == ["1.0.0", "1.1.0", "1.1.1", "1.2.0-mr.1.1"]

    env = laptop(sandbox, "read_api")  # every call of `versions` is a GET: read_api will do
    lines = invoke("versions", "--model", "churn", "--metric", "loss", env=env
                   ).stdout.splitlines()
    assert lines[0].split() == ["VERSION", "STATE", "CREATED", "RUN", "loss", "PIPELINE",
                                "JOB", "RUN", "ID"]
    assert column(lines, "VERSION") == ["1.2.0-mr.1.1", "1.1.1", "1.1.0", "1.0.0"]
    assert column(lines, "STATE") == ["prerelease", "latest", "-", "-"]
    assert column(lines, "RUN ") == ["train-3", "train-2", "train-1", "train-0"]
    assert column(lines, "loss", right=True) == ["0.1", "0.25", "0.2", "0.3"]
    newest = released[::-1]
    assert column(lines, "PIPELINE") == [f"#{p['iid']} ({p['pipeline_id']})"
                                         for _, _, p in newest]
    assert column(lines, "JOB") == [f"train #{p['jobs'][0]['id']}" for _, _, p in newest]
    assert column(lines, "RUN ID") == [r for _, r, _ in newest]

    data = json.loads(invoke("versions", "--model", "churn", "--metric", "loss", "--limit",
                             "2", "--json", env=env).stdout)
    assert (data["model"], data["metric"], data["total"]) == ("churn", "loss", 4)
    latest = data["versions"][1]
    version, run_id, pipeline = released[2]
    assert sorted(latest) == ["bump", "created", "job", "metric", "pipeline", "run",
                              "source_run_id", "state", "version", "version_id", "web_url"]
    assert (latest["version"], latest["state"], latest["bump"], latest["metric"]) == (
        version, "latest", "patch", 0.25)
    assert latest["run"] == {"run_id": run_id, "name": "train-2",
                             "experiment_id": experiment_id, "status": "FINISHED"}
    assert latest["pipeline"]["id"] == pipeline["pipeline_id"]
    assert latest["job"]["id"] == pipeline["jobs"][0]["id"]
    assert latest["created"].endswith("Z") and latest["web_url"]
    limited = invoke("versions", "--model", "churn", "--limit", "1", env=env)
    assert len(limited.stdout.splitlines()) == 2
    assert limited.stderr.strip() == "the newest 1 of 4 versions; --limit 0 shows all"


def test_a_model_without_versions_is_an_empty_answer(sandbox, api):
    assert api.mlflow("POST", "registered-models/create", json={"name": "fresh"}).ok
    result = invoke("versions", "--model", "fresh", env=laptop(sandbox))
    assert (result.stdout, result.stderr.strip()) == ("", "model 'fresh' has no versions yet")
    data = json.loads(invoke("versions", "--model", "fresh", "--json",
                             env=laptop(sandbox)).stdout)
    assert data == {"model": "fresh", "metric": None, "total": 0, "versions": []}


def test_in_the_pipelines_own_job_paging_stops_at_the_pipelines_creation(sandbox, api):
    """A run that started before the pipeline was created (minus ten minutes for clock skew)
    is not looked at, even with the pipeline's tag: the scan, newest first, stopped there."""
    pipeline = new_pipeline(api)
    experiment_id = api.mlflow("POST", "experiments/create",
                               json={"name": EXPERIMENT}).json()["experiment_id"]
    now = int(time.time() * 1000)
    for name, start in (("stale", now - 3_600_000), ("fresh", now)):
        r = api.mlflow("POST", "runs/create", json={
            "experiment_id": experiment_id, "start_time": start, "run_name": name,
            "tags": [{"key": "gitlab.CI_PIPELINE_ID", "value": str(pipeline["pipeline_id"])}]})
        assert r.ok, r.text
    created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now / 1000 - 60))
    env = job(sandbox, pipeline, CI_PIPELINE_CREATED_AT=created)
    names = [r["name"] for r in json.loads(invoke("runs", "--json", env=env).stdout)["runs"]]
    assert names == ["fresh"]
    elsewhere = json.loads(invoke("runs", "--json", "--pipeline", str(pipeline["pipeline_id"]),
                                  "--experiment", EXPERIMENT, env=laptop(sandbox)).stdout)
    assert [r["name"] for r in elsewhere["runs"]] == ["fresh", "stale"]  # no creation time


def test_versions_need_gitlabs_registry(plain_mlflow_server, tmp_path):
    result = invoke("versions", "--model", "churn", code=2, env={
        "PATH": os.environ["PATH"], "HOME": home(), "MLFLOW_TRACKING_URI": plain_mlflow_server})
    assert result.stderr.splitlines()[0] == (
        f"error: {plain_mlflow_server} is not a GitLab project's MLflow endpoint; versions "
        "reads GitLab's model registry")
