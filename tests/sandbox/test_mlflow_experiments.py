"""MLflow experiments against the sandbox: the stock client, exact bodies, ordering, auth."""

from __future__ import annotations

import pytest
from mlflow.exceptions import MlflowException

from mlflow_gitlab.sandbox.backend.experiments import insert_experiment
from tests import gitlab_errors as errors
from tests.gitlab_errors import ALREADY_EXISTS, INSUFFICIENT_SCOPE, NOT_EXIST


def create(api, name: str, **body) -> str:
    r = api.mlflow("POST", "experiments/create", json={"name": name, **body})
    assert r.status_code == 200, r.text
    return r.json()["experiment_id"]


def names(response) -> list[str]:
    return [e["name"] for e in response.json()["experiments"]]


# --- the stock client ---------------------------------------------------------------------------


def test_stock_client_experiment_lifecycle(mlflow_client):
    assert mlflow_client.get_experiment_by_name("missing") is None
    experiment_id = mlflow_client.create_experiment("churn", tags={"team": "ml"})
    assert experiment_id == "1"  # the per-project iid, from 1
    mlflow_client.set_experiment_tag(experiment_id, "stage", "dev")

    experiment = mlflow_client.get_experiment_by_name("churn")
    assert (experiment.experiment_id, experiment.name) == ("1", "churn")
    assert experiment.tags == {"team": "ml", "stage": "dev"}
    assert experiment.artifact_location == "not_implemented"
    assert experiment.lifecycle_stage == "active"
    assert [e.name for e in mlflow_client.search_experiments()] == ["churn"]

    mlflow_client.delete_experiment(experiment_id)
    assert mlflow_client.get_experiment_by_name("churn") is None


def test_stock_client_incompatibilities(mlflow_client):
    """An order_by list is refused, a filter is ignored, a duplicate name fails."""
    mlflow_client.create_experiment("a")
    mlflow_client.create_experiment("b")
    with pytest.raises(MlflowException) as exc:
        mlflow_client.search_experiments(order_by=["name ASC"])
    assert "order_by is invalid" in str(exc.value)  # a Grape body: no error_code
    found = mlflow_client.search_experiments(filter_string="name = 'a'")
    assert sorted(e.name for e in found) == ["a", "b"]
    with pytest.raises(MlflowException) as exc:
        mlflow_client.create_experiment("a")
    assert exc.value.error_code == "RESOURCE_ALREADY_EXISTS"
    with pytest.raises(MlflowException) as exc:
        mlflow_client.get_experiment("0")  # no Default experiment on GitLab
    assert exc.value.error_code == "RESOURCE_DOES_NOT_EXIST"


# --- get, get-by-name, list -----------------------------------------------------------------------


def test_get_returns_the_exact_entity(api):
    experiment_id = create(api, "exp", tags=[{"key": "k", "value": "v"}], artifact_location="s3://x")
    r = api.mlflow("GET", "experiments/get", params={"experiment_id": experiment_id})
    assert r.status_code == 200
    assert r.json() == {"experiment": {
        "experiment_id": "1", "name": "exp", "lifecycle_stage": "active",
        "artifact_location": "not_implemented", "tags": [{"key": "k", "value": "v"}]}}
    by_name = api.mlflow("GET", "experiments/get-by-name", params={"experiment_name": "exp"})
    assert by_name.json() == r.json()


def test_get_unknown_or_missing_is_404_without_message(api):
    create(api, "exp")
    for endpoint, params in [
        ("experiments/get", {}), ("experiments/get", {"experiment_id": "0"}),
        ("experiments/get", {"experiment_id": "99"}), ("experiments/get", {"experiment_id": "x"}),
        ("experiments/get", {"experiment_name": "exp"}),  # get reads only the id
        ("experiments/get-by-name", {}), ("experiments/get-by-name", {"experiment_name": "x"}),
    ]:
        r = api.mlflow("GET", endpoint, params=params)
        assert (r.status_code, r.json()) == (404, NOT_EXIST), (endpoint, params)


def test_project_by_encoded_path(api):
    create(api, "exp")
    r = api.mlflow("GET", "experiments/get", project="ml-team%2Fdemo-project",
                   params={"experiment_id": "1"})
    assert (r.status_code, r.json()["experiment"]["name"]) == (200, "exp")


def test_list_is_id_desc_and_includes_model_experiments(sandbox, api):
    assert api.mlflow("GET", "experiments/list").json() == {"experiments": []}
    create(api, "first")
    with sandbox.app.store.tx() as db:
        insert_experiment(db, sandbox.project_id, "[model]clf", 11, model_id=1)
    create(api, "last")
    assert names(api.mlflow("GET", "experiments/list")) == ["last", "[model]clf", "first"]


# --- search ---------------------------------------------------------------------------------------


SEARCH_ORDERS = [  # order_by, first page, second page (max_results 2)
    (None, ["n_1", "n_2"], ["n"]),  # the default: created_at DESC
    ("name ASC", ["n", "n_1"], ["n_2"]),
    ("name", ["n", "n_1"], ["n_2"]),  # no direction -> ascending
    ("NAME desc", ["n_2", "n_1"], ["n"]),
    ("name sideways", ["n_2", "n_1"], ["n"]),  # bad direction -> descending
    ("something DESC", ["n_1", "n_2"], ["n"]),  # unknown column -> id
    ("last_updated_timestamp ASC", ["n", "n_2"], ["n_1"]),
    ("created_at", ["n", "n_2"], ["n_1"]),
]


def test_search_pages_follow_the_spec_order(api):
    for name in ("n", "n_2", "n_1"):  # E, E_b, E_c in the reference
        create(api, name)
    for order_by, first_page, second_page in SEARCH_ORDERS:
        body = {"max_results": 2} if order_by is None else {"max_results": 2, "order_by": order_by}
        first = api.mlflow("POST", "experiments/search", json=body)
        assert first.status_code == 200
        assert names(first) == first_page, order_by
        token = first.json()["next_page_token"]
        assert isinstance(token, str)
        second = api.mlflow("POST", "experiments/search", json={**body, "page_token": token})
        assert names(second) == second_page, order_by
        assert second.json()["next_page_token"] is None


def test_search_order_by_array_is_a_grape_error(api):
    r = api.mlflow("POST", "experiments/search", json={"order_by": ["name ASC"]})
    assert (r.status_code, r.json()) == (400, {"error": "order_by is invalid"})


def test_search_ignores_filter_and_view_type(api):
    create(api, "a")
    create(api, "b")
    r = api.mlflow("POST", "experiments/search",
                   json={"filter": "name = 'a'", "view_type": "DELETED_ONLY"})
    assert names(r) == ["b", "a"]


def test_search_max_results_default_200_cap_1000(sandbox, api):
    with sandbox.app.store.tx() as db:
        for i in range(1001):
            insert_experiment(db, sandbox.project_id, f"e{i}", 11)
    default = api.mlflow("POST", "experiments/search", json={}).json()
    assert (len(default["experiments"]), default["next_page_token"] is not None) == (200, True)
    capped = api.mlflow("POST", "experiments/search", json={"max_results": 5000}).json()
    assert len(capped["experiments"]) == 1000
    rest = api.mlflow("POST", "experiments/search",
                      json={"max_results": 5000, "page_token": capped["next_page_token"]}).json()
    assert (names_of(rest), rest["next_page_token"]) == (["e0"], None)


def names_of(body: dict) -> list[str]:
    return [e["name"] for e in body["experiments"]]


# --- create ---------------------------------------------------------------------------------------


def test_create_errors(api):
    r = api.mlflow("POST", "experiments/create", json={})
    assert (r.status_code, r.json()) == (400, {"error": "name is missing"})
    create(api, "dup")
    for name in ("dup", "", "   "):  # any validation failure reads "already exists"
        r = api.mlflow("POST", "experiments/create", json={"name": name})
        assert (r.status_code, r.json()) == (400, ALREADY_EXISTS)


def test_create_tags_drop_duplicates_and_respect_database_limits(api):
    tags = [{"key": "k", "value": "first"}, {"key": "k", "value": "second"}]
    create(api, "exp", tags=tags)
    r = api.mlflow("GET", "experiments/get", params={"experiment_id": "1"})
    assert r.json()["experiment"]["tags"] == [{"key": "k", "value": "first"}]

    r = api.mlflow("POST", "experiments/create",
                   json={"name": "long", "tags": [{"key": "k", "value": "x" * 5001}]})
    assert r.status_code == 400
    assert r.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    assert r.json()["message"].startswith("PG::CheckViolation")
    assert api.mlflow("GET", "experiments/get-by-name",
                      params={"experiment_name": "long"}).status_code == 404


# --- set-experiment-tag ---------------------------------------------------------------------------


def test_set_experiment_tag(api):
    create(api, "exp")
    body = {"experiment_id": "1", "key": "k", "value": "v"}
    r = api.mlflow("POST", "experiments/set-experiment-tag", json=body)
    assert (r.status_code, r.json()) == (200, {})
    r = api.mlflow("POST", "experiments/set-experiment-tag", json={**body, "value": "w"})
    assert (r.status_code, r.json()) == (400, {
        "error_code": "INVALID_PARAMETER_VALUE",
        "message": "Validation failed: Name 'k' already taken"})
    r = api.mlflow("POST", "experiments/set-experiment-tag",
                   json={**body, "key": "long", "value": "x" * 5001})
    assert r.json() == {"error_code": "INVALID_PARAMETER_VALUE",
                        "message": "Validation failed: Value is too long (maximum is 5000 "
                                   "characters)"}
    ok = api.mlflow("POST", "experiments/set-experiment-tag",
                    json={**body, "key": "max", "value": "x" * 5000})
    assert ok.status_code == 200
    r = api.mlflow("POST", "experiments/set-experiment-tag", json={"experiment_id": "1"})
    assert (r.status_code, r.json()) == (400, {"error": "key is missing, value is missing"})
    r = api.mlflow("POST", "experiments/set-experiment-tag", json={**body, "experiment_id": "9"})
    assert (r.status_code, r.json()) == (404, NOT_EXIST)


# --- delete ---------------------------------------------------------------------------------------


def test_delete_is_hard_and_takes_the_runs(sandbox, api):
    create(api, "exp")
    run = api.mlflow("POST", "runs/create", json={"experiment_id": "1"}).json()["run"]
    r = api.mlflow("POST", "experiments/delete", json={"experiment_id": "1"})
    assert (r.status_code, r.json()) == (200, {})
    r = api.mlflow("GET", "experiments/get", params={"experiment_id": "1"})
    assert r.status_code == 404
    r = api.mlflow("GET", "runs/get", params={"run_id": run["info"]["run_id"]})
    assert r.status_code == 404
    assert sandbox.app.store.one("SELECT COUNT(*) AS n FROM candidates")["n"] == 0


def test_delete_errors(sandbox, api):
    r = api.mlflow("POST", "experiments/delete", json={})
    assert (r.status_code, r.json()) == (400, {"error": "experiment_id is missing"})
    r = api.mlflow("POST", "experiments/delete", json={"experiment_id": "5"})
    assert (r.status_code, r.json()) == (404, NOT_EXIST)
    with sandbox.app.store.tx() as db:
        insert_experiment(db, sandbox.project_id, "[model]clf", 11, model_id=1)
    r = api.mlflow("POST", "experiments/delete", json={"experiment_id": "1"})
    assert (r.status_code, r.json()) == (400, {
        "message": "Cannot delete an experiment associated to a model"})


def test_unsupported_experiment_endpoints_are_404(api):
    create(api, "exp")
    for endpoint in ("experiments/update", "experiments/restore", "experiments/delete-tag"):
        r = api.mlflow("POST", endpoint, json={"experiment_id": "1", "new_name": "x", "key": "k"})
        assert (r.status_code, r.json()) == (404, {"error": "404 Not Found"}), endpoint


# --- auth -----------------------------------------------------------------------------------------

UNAUTHORIZED = (401, errors.UNAUTHORIZED)
PROJECT_NOT_FOUND = (404, errors.PROJECT_NOT_FOUND)


def check(response, expected) -> None:
    """`expected` is a status, or (status, body)."""
    status, body = (expected, None) if isinstance(expected, int) else expected
    assert response.status_code == status, response.text
    if body is not None:
        assert response.json() == body


def test_read_auth_matrix(api):
    create(api, "exp")
    for token, expected in [
        ("developer", 200), ("maintainer", 200), ("read_api", 200), ("reporter", 200),
        (None, UNAUTHORIZED), ("glpat-unknown-token-000000", UNAUTHORIZED), ("job", UNAUTHORIZED),
        ("read_user", (403, INSUFFICIENT_SCOPE)), ("non_member", PROJECT_NOT_FOUND),
    ]:
        check(api.mlflow("GET", "experiments/get", token=token, params={"experiment_id": "1"}),
              expected)


def test_write_auth_matrix(api):
    """Writes, and POST searches, need write permission: a Reporter gets 401, not 403."""
    for endpoint in ("experiments/create", "experiments/search"):
        for token, expected in [
            ("reporter", UNAUTHORIZED), ("read_api", (403, INSUFFICIENT_SCOPE)),
            ("read_user", (403, INSUFFICIENT_SCOPE)), (None, UNAUTHORIZED), ("job", UNAUTHORIZED),
            ("non_member", PROJECT_NOT_FOUND), ("developer", 200), ("maintainer", 200),
        ]:
            check(api.mlflow("POST", endpoint, token=token, json={"name": f"{token}-exp"}),
                  expected)
    assert names(api.mlflow("GET", "experiments/list")) == ["maintainer-exp", "developer-exp"]


def test_job_token_header_is_not_read_on_mlflow_routes(api):
    r = api.mlflow("GET", "experiments/list", token="job", transport="job")
    assert (r.status_code, r.json()) == UNAUTHORIZED


def test_private_token_header_works_too(api):
    r = api.mlflow("GET", "experiments/list", transport="private")
    assert (r.status_code, r.json()) == (200, {"experiments": []})
