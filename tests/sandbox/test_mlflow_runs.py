"""MLflow runs against the sandbox: the Run entity, create/get/search/update/delete, auth."""

from __future__ import annotations

import re

import mlflow
import pytest
from mlflow.entities import Metric, Param, RunStatus, RunTag
from mlflow.exceptions import MlflowException

from tests import gitlab_errors as errors
from tests.gitlab_errors import NOT_EXIST

UNAUTHORIZED = (401, errors.UNAUTHORIZED)
PROJECT_NOT_FOUND = (404, errors.PROJECT_NOT_FOUND)
INSUFFICIENT_SCOPE = (403, errors.INSUFFICIENT_SCOPE)


def new_experiment(api, name: str = "exp", project: int | None = None) -> str:
    r = api.mlflow("POST", "experiments/create", json={"name": name}, project=project)
    assert r.status_code == 200, r.text
    return r.json()["experiment_id"]


def new_run(api, experiment_id: str = "1", project: int | None = None, **body) -> dict:
    r = api.mlflow("POST", "runs/create", json={"experiment_id": experiment_id, **body},
                   project=project)
    assert r.status_code == 200, r.text
    return r.json()["run"]


def add_other_project(sandbox) -> int:
    """A second private project (id 8) where the developer is a Developer too."""
    with sandbox.app.store.tx() as db:
        db.execute("INSERT INTO projects (id, path, name, visibility, created_at) "
                   "VALUES (8, 'ml-team/other', 'other', 'private', 0)")
        db.execute("INSERT INTO members VALUES (8, 11, 30)")
    return 8


@pytest.fixture
def fluent(mlflow_env, monkeypatch):
    """The fluent API with no experiment remembered from another test."""
    monkeypatch.setattr(mlflow.tracking.fluent, "_active_experiment_id", None)
    yield mlflow
    while mlflow.active_run():
        mlflow.end_run()


# --- the stock client -----------------------------------------------------------------------------


def test_fluent_training_flow(fluent, mlflow_client):
    experiment = fluent.set_experiment("churn")  # get-by-name 404 -> create
    assert experiment.experiment_id == "1"
    with fluent.start_run(run_name="baseline") as run:
        fluent.log_metric("loss", 0.9, step=0)
        fluent.log_metric("loss", 0.4, step=1)
        fluent.log_param("lr", "0.01")
        fluent.set_tag("stage", "dev")
        fluent.log_metrics({"acc": 0.8, "f1": 0.7}, step=1)
        fluent.log_params({"epochs": 3, "batch": 32})
    stored = mlflow_client.get_run(run.info.run_id)
    assert stored.info.status == "FINISHED" and stored.info.end_time >= stored.info.start_time
    assert stored.info.run_name == "baseline"
    assert stored.info.user_id == "11"
    assert stored.data.metrics == {"loss": 0.4, "acc": 0.8, "f1": 0.7}
    assert stored.data.params == {"lr": "0.01", "epochs": "3", "batch": "32"}
    assert stored.data.tags["stage"] == "dev"
    assert stored.data.tags["mlflow.runName"] == "baseline"
    history = mlflow_client.get_metric_history(run.info.run_id, "loss")
    assert [(m.step, m.value) for m in history] == [(0, 0.9), (1, 0.4)]
    assert [r.info.run_id for r in mlflow_client.search_runs(["1"])] == [run.info.run_id]


def test_fluent_run_with_failed_status(fluent, mlflow_client):
    fluent.set_experiment("churn")
    run = fluent.start_run()
    fluent.end_run(status="FAILED")
    info = mlflow_client.get_run(run.info.run_id).info
    assert info.status == "FAILED"
    assert re.fullmatch(r"[a-z]+-[a-z]+-[a-z]+-\d+", info.run_name)  # generated (16.3+)


def test_start_run_without_experiment_fails(fluent):
    """There is no Default experiment "0" on GitLab."""
    with pytest.raises(MlflowException) as exc:
        fluent.start_run()
    assert exc.value.error_code == "RESOURCE_DOES_NOT_EXIST"


def test_client_log_batch_search_update_delete(mlflow_client):
    experiment_id = mlflow_client.create_experiment("exp")
    run = mlflow_client.create_run(experiment_id, tags={"k": "v"}, run_name="r")
    run_id = run.info.run_id
    params = [Param(f"p{i}", str(i)) for i in range(150)]  # the client sends 2 requests
    mlflow_client.log_batch(run_id, metrics=[Metric("m", 1.5, 1000, 2)], params=params,
                            tags=[RunTag("t", "x")])
    data = mlflow_client.get_run(run_id).data
    assert len(data.params) == 150 and data.metrics == {"m": 1.5}
    assert data.tags == {"k": "v", "t": "x"}
    mlflow_client.update_run(run_id, status=RunStatus.to_string(RunStatus.KILLED), name="new")
    info = mlflow_client.get_run(run_id).info
    assert (info.status, info.run_name) == ("KILLED", "r")  # run_name is ignored
    with pytest.raises(MlflowException) as exc:
        mlflow_client.search_runs([experiment_id], order_by=["metrics.m DESC"])
    assert "order_by is invalid" in str(exc.value)
    mlflow_client.delete_run(run_id)
    assert mlflow_client.search_runs([experiment_id]) == []


def test_client_search_ignores_filter_and_extra_experiments(mlflow_client):
    """The filter is dropped, only the first experiment is searched."""
    first = mlflow_client.create_experiment("a")
    second = mlflow_client.create_experiment("b")
    kept = mlflow_client.create_run(first).info.run_id
    mlflow_client.create_run(second)
    found = mlflow_client.search_runs([first, second], filter_string="params.x = 'nothing'")
    assert [r.info.run_id for r in found] == [kept]


# --- create and the Run entity --------------------------------------------------------------------


def test_create_returns_the_exact_run(sandbox, api):
    new_experiment(api)
    r = api.mlflow("POST", "runs/create", json={
        "experiment_id": "1", "start_time": 1700000000000, "run_name": "A new Run",
        "user_id": "ignored", "tags": [{"key": "hello", "value": "world"}]})
    assert r.status_code == 200
    run = r.json()["run"]
    run_id = run["info"]["run_id"]
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}", run_id)
    assert run == {
        "info": {
            "run_id": run_id, "run_uuid": run_id, "experiment_id": "1",
            "start_time": 1700000000000, "run_name": "A new Run", "status": "RUNNING",
            "artifact_uri":
                f"{sandbox.url}/api/v4/projects/7/packages/ml_models/candidate:1/files/",
            "lifecycle_stage": "active", "user_id": "11"},
        "data": {"metrics": [], "params": [], "tags": [{"key": "hello", "value": "world"}]},
    }
    assert list(run["info"]) == ["run_id", "run_uuid", "experiment_id", "start_time", "run_name",
                                 "status", "artifact_uri", "lifecycle_stage", "user_id"]


def test_create_defaults_and_name_fallback(api):
    new_experiment(api)
    info = new_run(api, experiment_id=1)["info"]  # an Integer param: a number works too
    assert info["start_time"] == 0 and "end_time" not in info
    assert re.fullmatch(r"[a-z]+-[a-z]+-[a-z]+-\d+", info["run_name"])
    tagged = new_run(api, tags=[{"key": "mlflow.runName", "value": "from-tag"}])
    assert tagged["info"]["run_name"] == "from-tag"
    named = new_run(api, run_name="explicit", tags=[{"key": "mlflow.runName", "value": "tag"}])
    assert named["info"]["run_name"] == "explicit"


def test_create_errors(sandbox, api):
    new_experiment(api)
    other = add_other_project(sandbox)
    new_experiment(api, "elsewhere", project=other)
    new_experiment(api, "second-here")
    for body, expected in [
        ({}, (400, {"error": "experiment_id is missing"})),
        ({"experiment_id": "abc"}, (400, {"error": "experiment_id is invalid"})),
        ({"experiment_id": "1", "start_time": "soon"}, (400, {"error": "start_time is invalid"})),
        ({"experiment_id": "0"}, (404, NOT_EXIST)),
        ({"experiment_id": "3"}, (404, NOT_EXIST)),  # iid 3 exists nowhere; iid 1 of 8 is not ours
    ]:
        r = api.mlflow("POST", "runs/create", json=body)
        assert (r.status_code, r.json()) == expected, body
    assert sandbox.app.store.one("SELECT COUNT(*) AS n FROM candidates")["n"] == 0


def test_artifact_uri_rules(sandbox, api):
    new_experiment(api)
    run_id = new_run(api)["info"]["run_id"]
    base = f"{sandbox.url}/api/v4/projects/7/packages/ml_models"

    def uri() -> str:
        r = api.mlflow("GET", "runs/get", project="ml-team%2Fdemo-project",
                       params={"run_id": run_id})
        return r.json()["run"]["info"]["artifact_uri"]

    assert uri() == f"{base}/candidate:1/files/"  # numeric id even when called by path
    with sandbox.app.store.tx() as db:
        db.execute("UPDATE candidates SET package_id = 99")
    assert uri() == "mlflow-artifacts:/candidate:1"  # after the first upload
    with sandbox.app.store.tx() as db:
        db.execute("UPDATE candidates SET model_version_id = 42")
    assert uri() == f"{base}/42/files/"


# --- get ------------------------------------------------------------------------------------------


def test_get_errors_and_other_project(sandbox, api):
    other = add_other_project(sandbox)
    new_experiment(api, project=other)
    foreign = new_run(api, project=other)["info"]["run_id"]
    assert api.mlflow("GET", "runs/get", project=other,
                      params={"run_id": foreign}).status_code == 200
    for params, expected in [
        ({}, (400, {"error": "run_id is missing"})),
        ({"run_uuid": foreign}, (400, {"error": "run_id is missing"})),  # run_uuid is ignored
        ({"run_id": "not-a-uuid"}, (404, NOT_EXIST)),
        ({"run_id": foreign}, (404, NOT_EXIST)),  # another project's run under our path
    ]:
        r = api.mlflow("GET", "runs/get", params=params)
        assert (r.status_code, r.json()) == expected, params


def test_get_accepts_any_spelling_of_the_uuid(api):
    new_experiment(api)
    run_id = new_run(api)["info"]["run_id"]
    r = api.mlflow("GET", "runs/get", params={"run_id": run_id.upper()})
    assert (r.status_code, r.json()["run"]["info"]["run_id"]) == (200, run_id)


# --- search ---------------------------------------------------------------------------------------


def spec_runs(api) -> dict[str, str]:
    """The reference's c1 (`c`, 0.3), c2 (`a`, 0.2), c3 (`b`, 0.6), created in that order."""
    new_experiment(api)
    ids = {}
    for label, name, value in (("c1", "c", 0.3), ("c2", "a", 0.2), ("c3", "b", 0.6)):
        ids[label] = run_id = new_run(api, run_name=name)["info"]["run_id"]
        api.mlflow("POST", "runs/log-metric", json={
            "run_id": run_id, "key": "metric1", "value": value, "timestamp": 1})
    return ids


def search_pages(api, **body) -> list[list[str]]:
    """Every page of a runs/search (max_results 2) as lists of run ids."""
    pages, token = [], None
    while True:
        extra = {"page_token": token} if token else {}
        r = api.mlflow("POST", "runs/search",
                       json={"experiment_ids": ["1"], "max_results": 2, **body, **extra})
        assert r.status_code == 200, r.text
        pages.append([run["info"]["run_id"] for run in r.json()["runs"]])
        token = r.json()["next_page_token"]
        if token is None:
            return pages


def test_search_orders_like_the_spec(api):
    c = spec_runs(api)
    for order_by, expected in [
        (None, [["c3", "c2"], ["c1"]]),
        ("name ASC", [["c2", "c3"], ["c1"]]),
        ("something DESC", [["c3", "c2"], ["c1"]]),
        ("metrics.metric1", [["c3", "c1"], ["c2"]]),  # latest value, default desc
        ("metrics.metric1 ASC", [["c2", "c1"], ["c3"]]),
        ("params.something", [["c3", "c2"], ["c1"]]),
        ("tags.mlflow.runName", [["c3", "c2"], ["c1"]]),
        ("params.something ASC", [["c1", "c2"], ["c3"]]),  # default column, given direction
        ("name", [["c1", "c3"], ["c2"]]),  # runs default to descending
        ("created_at ASC", [["c1", "c2"], ["c3"]]),
        ("metrics.unknown", [[]]),  # inner join: runs without the metric are left out
    ]:
        body = {} if order_by is None else {"order_by": order_by}
        pages = [[label for run_id in page for label in c if c[label] == run_id]
                 for page in search_pages(api, **body)]
        assert pages == expected, order_by


def test_search_by_metric_uses_the_latest_value_and_drops_runs_without_it(api):
    c = spec_runs(api)
    api.mlflow("POST", "runs/log-metric", json={
        "run_id": c["c2"], "key": "metric1", "value": 0.9, "timestamp": 2})
    new_run(api, run_name="no-metric")
    assert search_pages(api, order_by="metrics.metric1 DESC") == [[c["c2"], c["c3"]], [c["c1"]]]
    assert [len(page) for page in search_pages(api)] == [2, 2]


def test_search_errors(api):
    new_experiment(api)
    for body, expected in [
        ({}, (400, {"error": "experiment_ids is missing"})),
        ({"experiment_ids": "1"}, (400, {"error": "experiment_ids is invalid"})),
        ({"experiment_ids": ["1"], "order_by": ["name"]}, (400, {"error": "order_by is invalid"})),
        ({"experiment_ids": []}, (404, NOT_EXIST)),
        ({"experiment_ids": ["7"]}, (404, NOT_EXIST)),
        ({"experiment_ids": ["7", "1"]}, (404, NOT_EXIST)),  # only [0] is looked at
    ]:
        r = api.mlflow("POST", "runs/search", json=body)
        assert (r.status_code, r.json()) == expected, body
    r = api.mlflow("POST", "runs/search", json={"experiment_ids": ["1"], "filter": "x"})
    assert r.json() == {"runs": [], "next_page_token": None}


def test_search_renders_full_runs(api):
    new_experiment(api)
    run_id = new_run(api, tags=[{"key": "t", "value": "v"}])["info"]["run_id"]
    api.mlflow("POST", "runs/log-batch", json={
        "run_id": run_id, "params": [{"key": "p", "value": "1"}],
        "metrics": [{"key": "m", "value": 2, "timestamp": 5}]})
    run = api.mlflow("POST", "runs/search", json={"experiment_ids": ["1"]}).json()["runs"][0]
    assert run["data"] == {"metrics": [{"key": "m", "value": 2.0, "timestamp": 5}],
                           "params": [{"key": "p", "value": "1"}],
                           "tags": [{"key": "t", "value": "v"}]}


# --- update ---------------------------------------------------------------------------------------


def test_update_answers_run_info(sandbox, api):
    new_experiment(api)
    run = new_run(api, start_time=1234)
    run_id = run["info"]["run_id"]
    r = api.mlflow("POST", "runs/update", json={
        "run_id": run_id, "status": "FINISHED", "end_time": 5678, "run_name": "ignored"})
    assert r.status_code == 200
    assert r.json() == {"run_info": {**run["info"], "end_time": 5678, "status": "FINISHED"}}
    assert sandbox.app.store.one("SELECT status FROM candidates")["status"] == "finished"


def test_update_errors(api):
    new_experiment(api)
    run_id = new_run(api)["info"]["run_id"]
    for body, expected in [
        ({"run_id": run_id, "status": "YOLO"}, {"error": "status does not have a valid value"}),
        ({"run_id": run_id, "status": "finished"}, {"error": "status does not have a valid value"}),
        ({"run_id": run_id, "end_time": "s"}, {"error": "end_time is invalid"}),
        ({"status": "DONE", "end_time": "s"}, {
            "error": "run_id is missing, status does not have a valid value, end_time is invalid"}),
    ]:
        r = api.mlflow("POST", "runs/update", json=body)
        assert (r.status_code, r.json()) == (400, expected), body
    r = api.mlflow("POST", "runs/update", json={"run_id": "0" * 32, "status": "FAILED"})
    assert (r.status_code, r.json()) == (404, NOT_EXIST)


# --- delete ---------------------------------------------------------------------------------------


def test_delete(sandbox, api):
    new_experiment(api)
    run_id = new_run(api)["info"]["run_id"]
    api.mlflow("POST", "runs/log-parameter", json={"run_id": run_id, "key": "k", "value": "v"})
    r = api.mlflow("POST", "runs/delete", json={"run_id": run_id})
    assert (r.status_code, r.json()) == (200, {})
    assert api.mlflow("GET", "runs/get", params={"run_id": run_id}).status_code == 404
    assert sandbox.app.store.one("SELECT COUNT(*) AS n FROM candidate_params")["n"] == 0
    r = api.mlflow("POST", "runs/delete", json={"run_id": run_id})
    assert (r.status_code, r.json()) == (404, NOT_EXIST)
    r = api.mlflow("POST", "runs/delete", json={})
    assert (r.status_code, r.json()) == (400, {"error": "run_id is missing"})


def test_delete_refuses_a_model_versions_run(sandbox, api):
    new_experiment(api)
    run_id = new_run(api)["info"]["run_id"]
    with sandbox.app.store.tx() as db:
        db.execute("UPDATE candidates SET model_version_id = 3")
    r = api.mlflow("POST", "runs/delete", json={"run_id": run_id})
    assert (r.status_code, r.json()) == (400, {
        "message": "Cannot delete a candidate associated to a model version"})
    assert api.mlflow("GET", "runs/get", params={"run_id": run_id}).status_code == 200


def test_unsupported_run_endpoints_are_404(api):
    new_experiment(api)
    run_id = new_run(api)["info"]["run_id"]
    for endpoint in ("runs/restore", "runs/delete-tag", "runs/log-model", "runs/log-inputs"):
        r = api.mlflow("POST", endpoint, json={"run_id": run_id, "key": "k"})
        assert (r.status_code, r.json()) == (404, {"error": "404 Not Found"}), endpoint


# --- auth -----------------------------------------------------------------------------------------


def check(response, expected) -> None:
    status, body = (expected, None) if isinstance(expected, int) else expected
    assert response.status_code == status, response.text
    if body is not None:
        assert response.json() == body


def test_auth_matrix(api):
    """Reads need Reporter (else 404); writes, and the POST search, need Developer (else 401)."""
    new_experiment(api)
    run_id = new_run(api)["info"]["run_id"]
    common = [(None, UNAUTHORIZED), ("glpat-unknown-token-000000", UNAUTHORIZED),
              ("job", UNAUTHORIZED), ("read_user", INSUFFICIENT_SCOPE),
              ("non_member", PROJECT_NOT_FOUND), ("developer", 200), ("maintainer", 200)]
    calls = {
        "get": (("GET", "runs/get", {"params": {"run_id": run_id}}),
                [("read_api", 200), ("reporter", 200)]),
        "search": (("POST", "runs/search", {"json": {"experiment_ids": ["1"]}}),
                   [("read_api", INSUFFICIENT_SCOPE), ("reporter", UNAUTHORIZED)]),
        "create": (("POST", "runs/create", {"json": {"experiment_id": "1"}}),
                   [("read_api", INSUFFICIENT_SCOPE), ("reporter", UNAUTHORIZED)]),
        "update": (("POST", "runs/update", {"json": {"run_id": run_id}}),
                   [("read_api", INSUFFICIENT_SCOPE), ("reporter", UNAUTHORIZED)]),
    }
    for (method, endpoint, kwargs), specific in calls.values():
        for token, expected in specific + common:
            check(api.mlflow(method, endpoint, token=token, **kwargs), expected)


def test_guest_member_gets_404_not_found(sandbox, api):
    """Below Reporter the project is visible but its runs are not: 404 Not Found, even on
    writes, because GitLab checks read permission before write permission."""
    new_experiment(api)
    run_id = new_run(api)["info"]["run_id"]
    with sandbox.app.store.tx() as db:
        db.execute("UPDATE members SET access_level = 10 WHERE user_id = 13")  # reporter -> guest
    for method, endpoint, kwargs in [
        ("GET", "runs/get", {"params": {"run_id": run_id}}),
        ("POST", "runs/create", {"json": {"experiment_id": "1"}}),
        ("POST", "runs/search", {"json": {"experiment_ids": ["1"]}}),
    ]:
        r = api.mlflow(method, endpoint, token="reporter", **kwargs)
        assert (r.status_code, r.json()) == (404, {"message": "404 Not Found"}), endpoint
