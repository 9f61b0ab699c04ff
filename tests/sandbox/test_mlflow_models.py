"""Registered models against the sandbox: stock client, exact bodies, filter quirks, auth."""

from __future__ import annotations

import time

import pytest
from mlflow.exceptions import MlflowException

from tests.gitlab_errors import ALREADY_EXISTS, INSUFFICIENT_SCOPE, NOT_EXIST

BAD_FILTER = {"error_code": "INVALID_PARAMETER_VALUE",
              "message": "Invalid attribute key specified. Valid keys are '{'name'}'"}


def create_model(api, name: str, **body) -> dict:
    r = api.mlflow("POST", "registered-models/create", json={"name": name, **body})
    assert r.status_code == 200, r.text
    return r.json()["registered_model"]


def create_version(api, name: str, version: str | None = None) -> dict:
    tags = [{"key": "gitlab.version", "value": version}] if version else []
    r = api.mlflow("POST", "model-versions/create", json={"name": name, "tags": tags})
    assert r.status_code == 200, r.text
    return r.json()["model_version"]


def search(api, **params) -> list[str]:
    r = api.mlflow("GET", "registered-models/search", params=params)
    assert r.status_code == 200, r.text
    return [m["name"] for m in r.json()["registered_models"]]


# --- the stock client ---------------------------------------------------------------------------


def test_stock_client_registered_model_lifecycle(mlflow_client):
    before = int(time.time())
    created = mlflow_client.create_registered_model("churn", tags={"team": "ml"},
                                                    description="Predicts churn")
    assert (created.name, created.description, created.tags) == (
        "churn", "Predicts churn", {"team": "ml"})
    assert before <= created.creation_timestamp <= time.time()  # seconds, not ms

    mlflow_client.create_model_version("churn", "s3://unused", tags={"gitlab.version": "1.0.0"})
    mlflow_client.create_model_version("churn", "s3://unused", tags={"gitlab.version": "0.9.0"})
    model = mlflow_client.get_registered_model("churn")
    assert [v.aliases for v in model.latest_versions] == [["1.0.0"], ["0.9.0"]]  # all versions

    updated = mlflow_client.update_registered_model("churn", description="v2")
    assert updated.description == "v2"

    mlflow_client.delete_registered_model("churn")
    with pytest.raises(MlflowException) as exc:
        mlflow_client.get_registered_model("churn")
    assert exc.value.error_code == "RESOURCE_DOES_NOT_EXIST"


def test_stock_client_search_is_broken_by_the_prompt_filter(mlflow_client, api):
    """MLflow 3 appends `AND tag.`mlflow.prompt.is_prompt` != 'true'` to every model search.

    GitLab splits the filter on `=` and substring-matches what follows, so a name filter
    matches nothing and a search without a filter is refused, exactly as here.
    """
    create_model(api, "churn")
    assert mlflow_client.search_registered_models(filter_string="name='churn'") == []
    with pytest.raises(MlflowException) as exc:
        mlflow_client.search_registered_models()
    assert exc.value.error_code == "INVALID_PARAMETER_VALUE"
    assert search(api, filter="name='churn'") == ["churn"]  # what an older client sends


# --- create ---------------------------------------------------------------------------------------


def test_create_returns_the_exact_entity_and_the_model_experiment(sandbox, api):
    model = create_model(api, "my-model", description="d", tags=[{"key": "k", "value": "v"}])
    stamp = model["creation_timestamp"]
    assert isinstance(stamp, int) and abs(stamp - time.time()) < 60
    assert model == {"name": "my-model", "creation_timestamp": stamp,
                     "last_updated_timestamp": stamp, "description": "d", "user_id": "11",
                     "tags": [{"key": "k", "value": "v"}], "latest_versions": []}
    experiment = sandbox.app.store.one("SELECT * FROM experiments WHERE name = '[model]my-model'")
    row = sandbox.app.store.one("SELECT id FROM models WHERE name = 'my-model'")
    assert experiment["model_id"] == row["id"]
    # the experiment is visible to the MLflow client like any other
    r = api.mlflow("GET", "experiments/get-by-name", params={"experiment_name": "[model]my-model"})
    assert r.status_code == 200


def test_create_without_description_renders_an_empty_string(api):
    assert create_model(api, "m")["description"] == ""


def test_create_without_name_is_a_grape_error(api):
    r = api.mlflow("POST", "registered-models/create", json={"description": "x"})
    assert (r.status_code, r.json()) == (400, {"error": "name is missing"})


@pytest.mark.parametrize("body", [
    {"name": "taken"},                                      # duplicate name
    {"name": "has space"},                                  # ml_model_name_regex
    {"name": "v1+build"},                                   # `+` only in directories
    {"name": "x" * 256},                                    # longer than 255
    {"name": "ok", "description": "d" * 10_001},            # description limit
    {"name": "ok", "tags": [{"key": "k", "value": "1"}, {"key": "k", "value": "2"}]},
    {"name": "ok", "tags": [{"key": "", "value": "1"}]},    # empty tag key
])
def test_every_create_failure_is_resource_already_exists(sandbox, api, body):
    create_model(api, "taken")
    r = api.mlflow("POST", "registered-models/create", json=body)
    assert (r.status_code, r.content) == (400, b'{"error_code":"RESOURCE_ALREADY_EXISTS"}')
    store = sandbox.app.store
    assert [m["name"] for m in store.all("SELECT name FROM models")] == ["taken"]
    assert store.one("SELECT COUNT(*) AS n FROM experiments")["n"] == 1  # rolled back


def test_create_fails_when_the_model_experiment_exists(api):
    r = api.mlflow("POST", "experiments/create", json={"name": "[model]m"})
    assert r.status_code == 200
    r = api.mlflow("POST", "registered-models/create", json={"name": "m"})
    assert (r.status_code, r.json()) == (400, ALREADY_EXISTS)


def test_model_names_allowed_by_the_package_name_regex(api):
    for name in ("a.b-c_d", "group/sub/model", "@scope/model", "team+ml/model"):
        assert create_model(api, name)["name"] == name


# --- get, update, get-latest-versions, alias --------------------------------------------------


@pytest.mark.parametrize("params", [{}, {"name": ""}, {"name": "missing"}])
def test_get_unknown_model_is_404_without_message(api, params):
    r = api.mlflow("GET", "registered-models/get", params=params)
    assert (r.status_code, r.content) == (404, b'{"error_code":"RESOURCE_DOES_NOT_EXIST"}')


def test_update_sets_and_clears_the_description(api):
    create_model(api, "m", description="old")
    r = api.mlflow("PATCH", "registered-models/update", json={"name": "m", "description": "new"})
    assert r.json()["registered_model"]["description"] == "new"
    r = api.mlflow("PATCH", "registered-models/update", json={"name": "m"})
    assert r.json()["registered_model"]["description"] == ""
    r = api.mlflow("PATCH", "registered-models/update", json={"name": "nope", "description": "x"})
    assert (r.status_code, r.json()) == (404, NOT_EXIST)


def test_update_with_a_too_long_description_is_a_validation_error(api):
    create_model(api, "m")
    r = api.mlflow("PATCH", "registered-models/update",
                   json={"name": "m", "description": "d" * 10_001})
    assert (r.status_code, r.json()) == (400, {
        "error_code": "INVALID_PARAMETER_VALUE",
        "message": "Validation failed: Description is too long (maximum is 10000 characters)"})


def test_get_latest_versions_is_exactly_the_highest_semver(api):
    create_model(api, "m")
    # GitLab presents `[model.latest_version]`: a model without versions gives `[null]`
    assert api.mlflow("POST", "registered-models/get-latest-versions",
                      json={"name": "m"}).json() == {"model_versions": [None]}
    for version in ("1.2.0", "1.10.0", "1.9.9", "1.3.0-rc.1"):
        create_version(api, "m", version)
    r = api.mlflow("POST", "registered-models/get-latest-versions",
                   json={"name": "m", "stages": ["Production"]})
    versions = r.json()["model_versions"]
    assert [v["aliases"] for v in versions] == [["1.10.0"]]  # numeric, not lexicographic
    r = api.mlflow("POST", "registered-models/get-latest-versions", json={"name": "x"})
    assert (r.status_code, r.json()) == (404, NOT_EXIST)


def test_stock_client_get_latest_versions_and_alias(mlflow_client, api):
    create_model(api, "m")
    create_version(api, "m", "2.0.0")
    latest = create_version(api, "m", "10.0.0")
    with pytest.warns(FutureWarning):  # MLflow deprecates stages; GitLab ignores them
        versions = mlflow_client.get_latest_versions("m")
    assert [v.version for v in versions] == [latest["version"]]
    by_alias = mlflow_client.get_model_version_by_alias("m", "2.0.0")
    assert by_alias.aliases == ["2.0.0"]


def test_stock_client_get_latest_versions_of_a_model_without_versions(mlflow_client, api):
    """GitLab's `[null]` is no list of versions to MLflow's protobuf parser."""
    create_model(api, "m")
    with pytest.warns(FutureWarning), pytest.raises(Exception, match="null"):
        mlflow_client.get_latest_versions("m")


def test_alias_lookup_is_by_semver(api):
    create_model(api, "m")
    version = create_version(api, "m", "1.2.3")
    r = api.mlflow("GET", "registered-models/alias", params={"name": "m", "alias": "1.2.3"})
    assert r.json() == {"model_version": version}
    r = api.mlflow("GET", "registered-models/alias",
                   params={"name": "m", "alias": version["version"]})
    assert (r.status_code, r.json()) == (404, NOT_EXIST)


# --- delete ---------------------------------------------------------------------------------------


def test_delete_removes_versions_packages_and_the_experiment(sandbox, api):
    create_model(api, "m")
    version = create_version(api, "m", "1.0.0")
    r = api.request("PUT", f"/projects/7/packages/ml_models/{version['version']}/files/m.pkl",
                    data=b"weights")
    assert r.status_code == 201
    blob = sandbox.app.store.one("SELECT blob FROM package_files")["blob"]

    r = api.mlflow("DELETE", "registered-models/delete", json={"name": "m"})
    assert (r.status_code, r.json()) == (200, {})
    store = sandbox.app.store
    for table in ("models", "model_versions", "packages", "package_files", "experiments",
                  "candidates"):
        assert store.one(f"SELECT COUNT(*) AS n FROM {table}")["n"] == 0, table
    assert not store.blob_path(blob).exists()
    create_model(api, "m")  # the name and its experiment name are free again


@pytest.mark.parametrize("body", [{}, {"name": "missing"}])
def test_delete_unknown_model_is_404(api, body):
    r = api.mlflow("DELETE", "registered-models/delete", json=body)
    assert (r.status_code, r.json()) == (404, NOT_EXIST)


# --- search ---------------------------------------------------------------------------------------


def test_search_filter_forms_and_substring_match(api):
    for name in ("churn", "churn-v2", "fraud"):
        create_model(api, name)
    assert search(api, filter="name='churn'") == ["churn", "churn-v2"]  # LIKE %x%
    assert search(api, filter='name="urn-"') == ["churn-v2"]
    assert search(api, filter="name=fraud") == ["fraud"]
    assert search(api, filter="name=") == ["churn", "churn-v2", "fraud"]
    assert search(api) == ["churn", "churn-v2", "fraud"]


@pytest.mark.parametrize("filter_string", [
    "name = 'churn'",  # split on `=`: the key is "name "
    "",
    "tags.team='ml'",
    "name LIKE 'churn%'",
])
def test_search_rejects_other_filters(api, filter_string):
    create_model(api, "churn")
    r = api.mlflow("GET", "registered-models/search", params={"filter": filter_string})
    assert (r.status_code, r.json()) == (400, BAD_FILTER)


def test_search_order_and_pagination(sandbox, api):
    for name in ("b", "c", "a"):
        create_model(api, name)
    assert search(api, order_by="name DESC") == ["c", "b", "a"]
    assert search(api, order_by="id") == ["b", "c", "a"]  # no direction -> asc
    assert search(api, order_by="something DESC") == ["a", "c", "b"]  # created_at DESC
    with sandbox.app.store.tx() as db:
        db.execute("UPDATE models SET updated_at = updated_at + 100 WHERE name = 'c'")
    assert search(api, order_by="last_updated_timestamp DESC")[0] == "c"

    r = api.mlflow("GET", "registered-models/search", params={"max_results": 2})
    body = r.json()
    assert [m["name"] for m in body["registered_models"]] == ["a", "b"]
    assert body["next_page_token"]
    r = api.mlflow("GET", "registered-models/search",
                   params={"max_results": 2, "page_token": body["next_page_token"]})
    assert [m["name"] for m in r.json()["registered_models"]] == ["c"]
    assert r.json()["next_page_token"] is None


# --- auth -----------------------------------------------------------------------------------------


def test_auth_matrix_for_registered_models(api):
    create_model(api, "m")
    get = ("GET", "registered-models/get", {"params": {"name": "m"}})
    write = ("POST", "registered-models/create", {"json": {"name": "n"}})
    cases = [
        (get, None, 401, {"message": "401 Unauthorized"}),
        (get, "glpat-invalid", 401, {"message": "401 Unauthorized"}),
        (get, "read_user", 403, INSUFFICIENT_SCOPE),
        (get, "non_member", 404, {"message": "404 Project Not Found"}),
        (get, "job", 401, {"message": "401 Unauthorized"}),  # job token as Bearer
        (write, "read_api", 403, INSUFFICIENT_SCOPE),
        (write, "reporter", 401, {"message": "401 Unauthorized"}),  # write -> 401, not 403
        (write, "job", 401, {"message": "401 Unauthorized"}),
    ]
    for (method, endpoint, kwargs), token, status, body in cases:
        r = api.mlflow(method, endpoint, token=token, **kwargs)
        assert (r.status_code, r.json()) == (status, body), (endpoint, token)
    for token in ("read_api", "reporter", "maintainer"):
        assert api.mlflow("GET", "registered-models/get", token=token,
                          params={"name": "m"}).status_code == 200


def test_job_token_header_is_not_read_on_mlflow_routes(sandbox, api):
    r = api.request("GET", api.mlflow_url("registered-models/search"), token="job",
                    transport="job")
    assert (r.status_code, r.json()) == (401, {"message": "401 Unauthorized"})
