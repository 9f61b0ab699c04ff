"""A run's params, tags and metrics against the sandbox: limits, duplicates, CI link, history."""

from __future__ import annotations

import pytest
from mlflow.entities import Param
from mlflow.exceptions import MlflowException

from tests.gitlab_errors import NOT_EXIST, SERVER_ERROR


def invalid(message: str) -> dict:
    return {"error_code": "INVALID_PARAMETER_VALUE", "message": message}


@pytest.fixture
def run_id(api) -> str:
    """A fresh run in experiment 1 of the seeded project."""
    assert api.mlflow("POST", "experiments/create", json={"name": "exp"}).status_code == 200
    r = api.mlflow("POST", "runs/create", json={"experiment_id": "1"})
    return r.json()["run"]["info"]["run_id"]


def data(api, run_id: str) -> dict:
    r = api.mlflow("GET", "runs/get", params={"run_id": run_id})
    assert r.status_code == 200, r.text
    return r.json()["run"]["data"]


def post(api, endpoint: str, **body):
    return api.mlflow("POST", endpoint, json=body)


# --- the stock client -----------------------------------------------------------------------------


def test_stock_client_duplicates_and_limits(mlflow_client, run_id):
    """A second set_tag/log_param on a key fails, long values fail."""
    mlflow_client.set_tag(run_id, "stage", "dev")
    mlflow_client.log_param(run_id, "lr", "0.1")
    for call in (lambda: mlflow_client.set_tag(run_id, "stage", "prod"),
                 lambda: mlflow_client.log_param(run_id, "lr", "0.1"),
                 lambda: mlflow_client.log_param(run_id, "long", "x" * 251),
                 lambda: mlflow_client.set_tag(run_id, "long", "x" * 5001),
                 lambda: mlflow_client.log_batch(run_id, params=[Param("p", "x" * 251)])):
        with pytest.raises(MlflowException) as exc:
            call()
        assert exc.value.error_code == "INVALID_PARAMETER_VALUE"
    mlflow_client.log_batch(run_id, params=[Param("lr", "0.5"), Param("new", "1")])  # dropped
    run = mlflow_client.get_run(run_id)
    assert run.data.params == {"lr": "0.1", "new": "1"}
    assert run.data.tags == {"stage": "dev"}


# --- log-metric -----------------------------------------------------------------------------------


def test_log_metric_appends_history_and_data_shows_the_latest(api, run_id):
    for value, step in ((0.5, 0), (0.3, 1), (0.4, None)):
        body = {"run_id": run_id, "key": "loss", "value": value, "timestamp": 1000}
        r = post(api, "runs/log-metric", **body, **({} if step is None else {"step": step}))
        assert (r.status_code, r.json()) == (200, {})
    assert data(api, run_id)["metrics"] == [{"key": "loss", "value": 0.4, "timestamp": 1000}]


def test_log_metric_errors(api, run_id):
    for body, expected in [
        ({"run_id": run_id}, {"error": "key is missing, value is missing, timestamp is missing"}),
        ({"run_id": run_id, "key": "k", "value": "abc", "timestamp": 1},
         {"error": "value is invalid"}),
        ({"run_id": run_id, "key": "k", "value": "NaN", "timestamp": 1},
         {"error": "value is invalid"}),
        ({"run_id": run_id, "key": "k", "value": 1, "timestamp": "now"},
         {"error": "timestamp is invalid"}),
        ({"run_id": run_id, "key": "k" * 251, "value": 1, "timestamp": 1},
         invalid("Validation failed: Name is too long (maximum is 250 characters)")),
    ]:
        r = post(api, "runs/log-metric", **body)
        assert (r.status_code, r.json()) == (400, expected), body
    r = post(api, "runs/log-metric", run_id="f" * 32, key="k", value=1, timestamp=1)
    assert (r.status_code, r.json()) == (404, NOT_EXIST)
    assert data(api, run_id)["metrics"] == []


# --- log-parameter and set-tag --------------------------------------------------------------------


def test_log_parameter_limits_and_duplicates(sandbox, api, run_id):
    assert post(api, "runs/log-parameter", run_id=run_id, key="lr", value="x" * 250).json() == {}
    r = post(api, "runs/log-parameter", run_id=run_id, key="lr", value="x" * 250)
    assert r.status_code == 400
    assert r.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    assert r.json()["message"].startswith("PG::UniqueViolation: ERROR:  duplicate key value")
    for body, expected in [
        ({"key": "long", "value": "x" * 251},
         invalid("Validation failed: Value is too long (maximum is 250 characters)")),
        ({"key": "k" * 251, "value": ""},
         invalid("Validation failed: Name is too long (maximum is 250 characters), "
                 "Value can't be blank")),
    ]:
        r = post(api, "runs/log-parameter", run_id=run_id, **body)
        assert (r.status_code, r.json()) == (400, expected), body
    r = post(api, "runs/log-parameter", run_id=run_id, key="k")
    assert (r.status_code, r.json()) == (400, {"error": "value is missing"})
    assert data(api, run_id)["params"] == [{"key": "lr", "value": "x" * 250}]


def test_set_tag_limits_and_duplicates(api, run_id):
    assert post(api, "runs/set-tag", run_id=run_id, key="t", value="x" * 5000).json() == {}
    for body, expected in [
        ({"key": "t", "value": "other"}, invalid("Validation failed: Name 't' already taken")),
        ({"key": "u", "value": "x" * 5001},
         invalid("Validation failed: Value is too long (maximum is 5000 characters)")),
        ({"key": "k" * 251, "value": "v"},
         invalid("Validation failed: Name is too long (maximum is 250 characters)")),
    ]:
        r = post(api, "runs/set-tag", run_id=run_id, **body)
        assert (r.status_code, r.json()) == (400, expected), body
    r = post(api, "runs/set-tag", key="k", value="v")
    assert (r.status_code, r.json()) == (400, {"error": "run_id is missing"})
    r = post(api, "runs/set-tag", run_id="nope", key="k", value="v")
    assert (r.status_code, r.json()) == (404, NOT_EXIST)
    assert data(api, run_id)["tags"] == [{"key": "t", "value": "x" * 5000}]


# --- log-batch ------------------------------------------------------------------------------------


def test_log_batch_drops_duplicate_and_existing_keys(api, run_id):
    post(api, "runs/log-parameter", run_id=run_id, key="existing", value="old")
    r = post(api, "runs/log-batch", run_id=run_id,
             metrics=[{"key": "m", "value": 1, "timestamp": 5, "step": 1},
                      {"key": "m", "value": 2, "timestamp": 6, "step": 2}],
             params=[{"key": "existing", "value": "new"}, {"key": "p", "value": "a"},
                     {"key": "p", "value": "b"}],
             tags=[{"key": "t", "value": "first"}, {"key": "t", "value": "second"}])
    assert (r.status_code, r.json()) == (200, {})
    assert data(api, run_id) == {
        "metrics": [{"key": "m", "value": 2.0, "timestamp": 6, "step": 2}],
        "params": [{"key": "existing", "value": "old"}, {"key": "p", "value": "a"}],
        "tags": [{"key": "t", "value": "first"}],
    }


def test_log_batch_keeps_the_kinds_inserted_before_the_failing_one(api, run_id):
    """Metrics, params and tags are three `insert_all`s with no transaction around them
    (`log-batch` in `lib/api/ml/mlflow/runs.rb`): a failing kind rejects all of its own
    items, and the kinds inserted before it stay."""
    r = post(api, "runs/log-batch", run_id=run_id,
             metrics=[{"key": "m", "value": 1, "timestamp": 5}],
             params=[{"key": "ok", "value": "1"}, {"key": "long", "value": "x" * 251}])
    assert r.status_code == 400
    assert r.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    assert data(api, run_id) == {"metrics": [{"key": "m", "value": 1.0, "timestamp": 5}],
                                 "params": [], "tags": []}
    r = post(api, "runs/log-batch", run_id=run_id, tags=[{"key": "t", "value": "x" * 5001}],
             params=[{"key": "ok", "value": "1"}])
    assert r.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    assert data(api, run_id)["params"] == [{"key": "ok", "value": "1"}]
    assert data(api, run_id)["tags"] == []


def test_log_batch_grape_errors_write_nothing(api, run_id):
    r = post(api, "runs/log-batch", run_id=run_id,
             metrics=[{"key": "m", "value": 1, "timestamp": 5}],
             params=[{"key": "ok", "value": "1"}, {"value": "2"}])
    assert (r.status_code, r.json()) == (400, {"error": "params[1][key] is missing"})
    assert data(api, run_id) == {"metrics": [], "params": [], "tags": []}


def test_log_batch_grape_errors(api, run_id):
    for body, expected in [
        ({"metrics": [{"value": 1, "timestamp": 1}]}, "metrics[0][key] is missing"),
        ({"metrics": [{"key": "m", "value": 1}]}, "metrics[0][timestamp] is missing"),
        ({"params": [{"key": "a", "value": "1"}, {"value": "2"}]}, "params[1][key] is missing"),
        ({"params": ["model_class"]}, "params[0][key] is missing, params[0][value] is missing"),
        ({"tags": [{"key": "t"}]}, "tags[0][value] is missing"),
        ({"metrics": {"key": "m"}}, "metrics is invalid"),
    ]:
        r = post(api, "runs/log-batch", run_id=run_id, **body)
        assert (r.status_code, r.json()) == (400, {"error": expected}), body
    r = post(api, "runs/log-batch", params=[])
    assert (r.status_code, r.json()) == (400, {"error": "run_id is missing"})


# --- gitlab.CI_JOB_ID -----------------------------------------------------------------------------


def ci_build_id(sandbox) -> int | None:
    return sandbox.app.store.one("SELECT ci_build_id FROM candidates")["ci_build_id"]


def test_ci_job_tag_links_the_run_to_its_job(sandbox, api, run_id):
    r = post(api, "runs/set-tag", run_id=run_id, key="gitlab.CI_JOB_ID", value="5002")
    assert (r.status_code, r.json()) == (200, {})
    assert ci_build_id(sandbox) == 5002
    assert data(api, run_id)["tags"] == [{"key": "gitlab.CI_JOB_ID", "value": "5002"}]
    r = post(api, "runs/set-tag", run_id=run_id, key="gitlab.other", value="anything")
    assert r.status_code == 200  # other gitlab.* tags are stored as they are


def test_ci_job_tag_on_create_and_batch(sandbox, api, run_id):
    r = post(api, "runs/create", experiment_id="1",
             tags=[{"key": "gitlab.CI_JOB_ID", "value": "5001"}])
    assert r.status_code == 200
    row = sandbox.app.store.one("SELECT ci_build_id FROM candidates WHERE eid = ?",
                                r.json()["run"]["info"]["run_id"])
    assert row["ci_build_id"] == 5001
    r = post(api, "runs/log-batch", run_id=run_id,
             tags=[{"key": "gitlab.CI_JOB_ID", "value": "5003"}])
    assert r.status_code == 200
    assert sandbox.app.store.one("SELECT ci_build_id FROM candidates WHERE eid = ?",
                                 run_id)["ci_build_id"] == 5003


def test_ci_job_tag_naming_no_job_is_a_500(sandbox, api, run_id):
    """GitLab raises ArgumentError, most likely a 500; no tag is stored, but
    `runs/create` has made the run before its tags, and keeps it."""
    bad = [{"key": "gitlab.CI_JOB_ID", "value": "999999"}]
    for endpoint, body in [
        ("runs/set-tag", {"run_id": run_id, "key": "gitlab.CI_JOB_ID", "value": "999999"}),
        ("runs/set-tag", {"run_id": run_id, "key": "gitlab.CI_JOB_ID", "value": "abc"}),
        ("runs/log-batch", {"run_id": run_id, "tags": bad, "params": [{"key": "p", "value": "1"}]}),
        ("runs/create", {"experiment_id": "1", "tags": bad}),
    ]:
        r = post(api, endpoint, **body)
        assert (r.status_code, r.json()) == (500, SERVER_ERROR), (endpoint, body)
    # the log-batch's params were inserted before its tags failed, and stay
    assert data(api, run_id) == {"metrics": [], "params": [{"key": "p", "value": "1"}],
                                 "tags": []}
    assert sandbox.app.store.one("SELECT COUNT(*) AS n FROM candidates")["n"] == 2
    half_made = sandbox.app.store.one("SELECT id FROM candidates ORDER BY id DESC LIMIT 1")
    assert sandbox.app.store.one("SELECT COUNT(*) AS n FROM candidate_tags WHERE "
                                 "candidate_id = ?", half_made["id"])["n"] == 0
    assert ci_build_id(sandbox) is None


# --- metrics/get-history --------------------------------------------------------------------------


def test_metric_history_pages_by_step(api, run_id):
    metrics = [{"key": "loss", "value": float(10 - step), "timestamp": 100 + step, "step": step}
               for step in (3, 0, 4, 1, 2)]
    post(api, "runs/log-batch", run_id=run_id, metrics=metrics)
    pages, token = [], None
    while True:
        params = {"run_id": run_id, "metric_key": "loss", "max_results": 2}
        r = api.mlflow("GET", "metrics/get-history",
                       params={**params, **({"page_token": token} if token else {})})
        assert r.status_code == 200
        pages.append([m["step"] for m in r.json()["metrics"]])
        token = r.json()["next_page_token"]
        if token is None:
            break
    assert pages == [[0, 1], [2, 3], [4]]
    r = api.mlflow("GET", "metrics/get-history", params={"run_id": run_id, "metric_key": "loss"})
    assert r.json()["metrics"][0] == {"key": "loss", "value": 10.0, "timestamp": 100, "step": 0}


def test_metric_history_errors(api, run_id):
    r = api.mlflow("GET", "metrics/get-history", params={"run_id": run_id, "metric_key": "none"})
    assert (r.status_code, r.json()) == (200, {"metrics": [], "next_page_token": None})
    r = api.mlflow("GET", "metrics/get-history", params={"run_id": run_id})
    assert (r.status_code, r.json()) == (400, {"error": "metric_key is missing"})
    r = api.mlflow("GET", "metrics/get-history", params={"metric_key": "loss"})
    assert (r.status_code, r.json()) == (400, {"error": "run_id is missing"})
    r = api.mlflow("GET", "metrics/get-history",
                   params={"run_id": "0" * 32, "metric_key": "loss"})
    assert (r.status_code, r.json()) == (404, NOT_EXIST)
    r = api.mlflow("GET", "metrics/get-history", token="read_api",
                   params={"run_id": run_id, "metric_key": "loss"})
    assert r.status_code == 200  # a GET: read_api is enough


def test_data_writes_need_write_permission(api, run_id):
    body = {"run_id": run_id, "key": "k", "value": "v"}
    for token, status in (("reporter", 401), ("read_api", 403), ("job", 401), (None, 401),
                          ("non_member", 404)):
        for endpoint in ("runs/set-tag", "runs/log-parameter", "runs/log-batch"):
            r = api.mlflow("POST", endpoint, token=token, json=body)
            assert r.status_code == status, (token, endpoint)
    assert data(api, run_id) == {"metrics": [], "params": [], "tags": []}
