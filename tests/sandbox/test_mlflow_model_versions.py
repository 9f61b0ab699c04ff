"""Model versions against the sandbox: the id-vs-semver quirk, numbering, side effects."""

from __future__ import annotations

import os

import mlflow
import pytest
from mlflow.exceptions import MlflowException

from mlflow_gitlab.sandbox.backend.candidates import insert_candidate
from tests.gitlab_errors import INSUFFICIENT_SCOPE, NOT_EXIST


def create_model(api, name: str) -> None:
    r = api.mlflow("POST", "registered-models/create", json={"name": name})
    assert r.status_code == 200, r.text


def post_version(api, name: str, version: str | None = None, **body):
    tags = body.pop("tags", [])
    if version is not None:
        tags = [*tags, {"key": "gitlab.version", "value": version}]
    return api.mlflow("POST", "model-versions/create", json={"name": name, "tags": tags, **body})


def create_version(api, name: str, version: str | None = None, **body) -> dict:
    r = post_version(api, name, version, **body)
    assert r.status_code == 200, r.text
    return r.json()["model_version"]


def counts(sandbox) -> dict[str, int]:
    store = sandbox.app.store
    return {t: store.one(f"SELECT COUNT(*) AS n FROM {t}")["n"]
            for t in ("model_versions", "model_version_tags", "candidates", "packages")}


# --- the stock client ---------------------------------------------------------------------------


def test_stock_client_version_lifecycle(mlflow_client, sandbox):
    mlflow_client.create_registered_model("churn")
    mv = mlflow_client.create_model_version("churn", "s3://bucket/model",
                                            tags={"gitlab.version": "1.2.3"},
                                            description="first")
    assert mv.version == "1"  # the global id, not the semver
    assert mv.aliases == ["1.2.3"]
    assert mv.tags == {"gitlab.version": "1.2.3"}  # the version tag is stored too
    assert (mv.status, mv.current_stage, mv.description) == ("READY", "development", "first")
    assert mv.source == f"{sandbox.url}/ml-team/demo-project/-/ml/models/1/versions/1"

    assert mlflow_client.get_model_version("churn", "1.2.3").version == "1"
    with pytest.raises(MlflowException) as exc:
        mlflow_client.get_model_version("churn", mv.version)
    assert exc.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    assert mlflow_client.get_model_version_by_alias("churn", "1.2.3").version == "1"

    updated = mlflow_client.update_model_version("churn", "1.2.3", description="better")
    assert updated.description == "better"
    assert mlflow_client.get_model_version_download_uri("churn", mv.version) == \
        "mlflow-artifacts:/1"


def test_version_run_is_a_run_of_the_model_experiment(mlflow_client, sandbox):
    mlflow_client.create_registered_model("churn")
    mv = mlflow_client.create_model_version("churn", "s3://x", tags={"gitlab.version": "1.0.0"})
    run = mlflow_client.get_run(mv.run_id)
    experiment = mlflow_client.get_experiment(run.info.experiment_id)
    assert experiment.name == "[model]churn"
    assert run.info.artifact_uri == \
        f"{sandbox.api_url}/projects/7/packages/ml_models/{mv.version}/files/"
    package = sandbox.app.store.one("SELECT * FROM packages")
    assert (package["package_type"], package["name"], package["version"]) == (
        "ml_model", "churn", "1.0.0")


def test_models_uri_downloads_through_get_download_uri(mlflow_env, api, tmp_path):
    create_model(api, "churn")
    old = create_version(api, "churn", "1.0.0")
    mv = create_version(api, "churn", "1.1.0")
    for version, body in ((old, b"old"), (mv, b"new")):
        r = api.request("PUT", f"/projects/7/packages/ml_models/{version['version']}/files/"
                        "model.pkl", data=body)
        assert r.status_code == 201
    cases = ((f"models:/churn/{mv['version']}", b"new"),
             (f"models:/churn/{old['version']}", b"old"),
             ("models:/churn@1.0.0", b"old"),
             ("models:/churn/latest", b"new"))
    for index, (uri, expected) in enumerate(cases):
        target = tmp_path / str(index)
        local = mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=str(target))
        assert os.listdir(local) == ["model.pkl"], uri
        assert (target / "model.pkl").read_bytes() == expected, uri


# --- version numbering ----------------------------------------------------------------------------


def test_ids_come_from_one_global_sequence(api):
    create_model(api, "a")
    create_model(api, "b")
    ids = [int(create_version(api, name)["version"]) for name in ("a", "b", "a", "b")]
    assert ids == [ids[0], ids[0] + 1, ids[0] + 2, ids[0] + 3]


def test_implicit_numbering_starts_at_1_0_0_then_bumps_the_patch(api):
    create_model(api, "m")
    assert create_version(api, "m")["aliases"] == ["1.0.0"]
    assert create_version(api, "m")["aliases"] == ["1.0.1"]
    create_version(api, "m", "1.2.3")
    create_version(api, "m", "0.9.0")
    implicit = create_version(api, "m")
    assert implicit["aliases"] == ["1.2.4"]  # from the highest semver, not the newest
    assert implicit["tags"] == []  # only an explicit gitlab.version is stored as a tag


@pytest.mark.parametrize("version", ["v1.2.3", "1.2", "01.2.3", "1.2.3.4", "", "latest"])
def test_invalid_semver_is_a_message_array(sandbox, api, version):
    create_model(api, "m")
    before = counts(sandbox)
    r = post_version(api, "m", version)
    assert r.status_code == 400
    assert r.content == \
        b'{"error_code":"INVALID_PARAMETER_VALUE","message":["Version must be semantic version"]}'
    assert counts(sandbox) == before


def test_duplicate_version_is_a_message_array(sandbox, api):
    create_model(api, "m")
    create_version(api, "m", "1.0.0")
    before = counts(sandbox)
    r = post_version(api, "m", "1.0.0")
    assert (r.status_code, r.content) == (
        400,
        b'{"error_code":"INVALID_PARAMETER_VALUE","message":["Version has already been taken"]}')
    assert counts(sandbox) == before
    create_model(api, "other")
    assert create_version(api, "other", "1.0.0")["aliases"] == ["1.0.0"]  # unique per model


@pytest.mark.parametrize(("tags", "message"), [
    ([{"key": "k", "value": "1"}, {"key": "k", "value": "2"}],
     "Validation failed: Name 'k' already taken"),
    ([{"value": "1"}], "Validation failed: Name can't be blank"),
    ([{"key": "k", "value": ""}], "Validation failed: Value can't be blank"),
    ([{"key": "k" * 256, "value": "v"}],
     "Validation failed: Name is too long (maximum is 255 characters)"),
    ([{"key": "k", "value": "v" * 5001}],
     "Validation failed: Value is too long (maximum is 5000 characters)"),
])
def test_bad_tags_reject_the_whole_version(sandbox, api, tags, message):
    create_model(api, "m")
    before = counts(sandbox)
    r = post_version(api, "m", "1.0.0", tags=tags)
    assert (r.status_code, r.json()) == (
        400, {"error_code": "INVALID_PARAMETER_VALUE", "message": [message]})
    assert counts(sandbox) == before  # nothing persisted


def test_too_long_description_is_a_message_array(api):
    create_model(api, "m")
    r = post_version(api, "m", "1.0.0", description="d" * 10_001)
    assert r.json() == {"error_code": "INVALID_PARAMETER_VALUE",
                        "message": ["Description is too long (maximum is 10000 characters)"]}


@pytest.mark.parametrize("body", [{}, {"name": "missing"}])
def test_create_for_an_unknown_model_is_404(api, body):
    r = api.mlflow("POST", "model-versions/create", json=body)
    assert (r.status_code, r.json()) == (404, NOT_EXIST)


# --- promotion via run_id -------------------------------------------------------------------------


def _run_in(sandbox, experiment_name: str) -> str:
    store = sandbox.app.store
    experiment = store.one("SELECT id FROM experiments WHERE name = ?", experiment_name)
    with store.tx() as db:
        return insert_candidate(db, 7, experiment["id"], name="r", start_time=0,
                                user_id=11)["eid"]


def test_run_id_promotes_a_run_of_the_model_experiment(sandbox, api):
    create_model(api, "m")
    run_id = _run_in(sandbox, "[model]m")
    r = api.request("PUT", "/projects/7/packages/ml_models/candidate:1/files/w.bin", data=b"w")
    assert r.status_code == 201
    mv = create_version(api, "m", "2.0.0", run_id=run_id)
    assert mv["run_id"] == run_id
    packages = sandbox.app.store.all("SELECT name, version FROM packages")
    assert [tuple(p) for p in packages] == [("m", "2.0.0")]  # the run's package, renamed
    r = api.request("GET", f"/projects/7/packages/ml_models/{mv['version']}/files/w.bin")
    assert (r.status_code, r.content) == (200, b"w")

    r = post_version(api, "m", "3.0.0", run_id=run_id)
    assert r.json()["message"] == ["Run has already a model version"]


def test_stock_client_promotes_a_run_by_run_id(mlflow_client):
    mlflow_client.create_registered_model("m")
    experiment = mlflow_client.get_experiment_by_name("[model]m")
    run = mlflow_client.create_run(experiment.experiment_id)
    mv = mlflow_client.create_model_version("m", f"runs:/{run.info.run_id}/model",
                                            run_id=run.info.run_id,
                                            tags={"gitlab.version": "1.0.0"})
    assert mv.run_id == run.info.run_id
    promoted = mlflow_client.get_run(run.info.run_id)
    assert promoted.info.artifact_uri.endswith(f"/packages/ml_models/{mv.version}/files/")
    other = mlflow_client.create_run(mlflow_client.create_experiment("plain"))
    with pytest.raises(MlflowException) as exc:
        mlflow_client.create_model_version("m", "s3://x", run_id=other.info.run_id)
    assert "Run's experiment does not belong to this model" in str(exc.value)


def test_run_id_errors(sandbox, api):
    create_model(api, "m")
    r = api.mlflow("POST", "experiments/create", json={"name": "plain"})
    assert r.status_code == 200
    cases = [(_run_in(sandbox, "plain"), "Run's experiment does not belong to this model"),
             ("00000000-0000-0000-0000-000000000000", "Run not found")]
    for run_id, message in cases:
        before = counts(sandbox)
        r = post_version(api, "m", "1.0.0", run_id=run_id)
        assert (r.status_code, r.json()) == (
            400, {"error_code": "INVALID_PARAMETER_VALUE", "message": [message]})
        assert counts(sandbox) == before


# --- get, update, get-download-uri ----------------------------------------------------------------


def test_get_is_by_semver_and_returns_the_exact_entity(sandbox, api):
    create_model(api, "m")
    mv = create_version(api, "m", "1.2.3", description="d")
    run_id = sandbox.app.store.one("SELECT eid FROM candidates")["eid"]
    assert mv == {
        "name": "m", "version": mv["version"], "creation_timestamp": mv["creation_timestamp"],
        "last_updated_timestamp": mv["creation_timestamp"], "user_id": None,
        "current_stage": "development", "description": "d",
        "source": f"{sandbox.url}/ml-team/demo-project/-/ml/models/1/versions/{mv['version']}",
        "run_id": run_id, "status": "READY", "status_message": "",
        "tags": [{"key": "gitlab.version", "value": "1.2.3"}], "run_link": "",
        "aliases": ["1.2.3"]}
    r = api.mlflow("GET", "model-versions/get", params={"name": "m", "version": "1.2.3"})
    assert r.json() == {"model_version": mv}
    for params in ({"name": "m", "version": mv["version"]}, {"name": "x", "version": "1.2.3"}):
        r = api.mlflow("GET", "model-versions/get", params=params)
        assert (r.status_code, r.json()) == (404, NOT_EXIST)
    r = api.mlflow("GET", "model-versions/get", params={"name": "m"})
    assert (r.status_code, r.json()) == (400, {"error": "version is missing"})


def test_update_errors(api):
    create_model(api, "m")
    create_version(api, "m", "1.0.0")
    for body in ({"name": "m", "version": "1.0.0"}, {"version": "1.0.0", "description": "d"}):
        r = api.mlflow("PATCH", "model-versions/update", json=body)
        assert (r.status_code, r.content) == (
            400, b'{"error_code":"INVALID_PARAMETER_VALUE","message":null}')
    for version in ("9.9.9", "1"):  # unknown semver; the id is not a semver
        r = api.mlflow("PATCH", "model-versions/update",
                       json={"name": "m", "version": version, "description": "d"})
        assert (r.status_code, r.json()) == (400, {"error_code": "UPDATE_FAILED"})
    r = api.mlflow("PATCH", "model-versions/update",
                   json={"name": "m", "version": "1.0.0", "description": ""})
    assert r.json()["model_version"]["description"] == ""


def test_get_download_uri_is_by_id_and_checks_nothing(api):
    r = api.mlflow("GET", "model-versions/get-download-uri",
                   params={"name": "anything", "version": "12345"})
    assert (r.status_code, r.content) == (200, b'{"artifact_uri":"mlflow-artifacts:/12345"}')
    r = api.mlflow("GET", "model-versions/get-download-uri",
                   params={"name": "m", "version": "1.2.3"})
    assert (r.status_code, r.json()) == (400, {"error": "version is invalid"})
    r = api.mlflow("GET", "model-versions/get-download-uri")
    assert r.json() == {"error": "name is missing, version is missing"}


# --- auth -----------------------------------------------------------------------------------------


def test_auth_matrix_for_model_versions(api):
    create_model(api, "m")
    create_version(api, "m", "1.0.0")
    get = ("GET", "model-versions/get", {"params": {"name": "m", "version": "1.0.0"}})
    write = ("POST", "model-versions/create", {"json": {"name": "m"}})
    update = ("PATCH", "model-versions/update",
              {"json": {"name": "m", "version": "1.0.0", "description": "x"}})
    cases = [
        (get, None, 401, {"message": "401 Unauthorized"}),
        (get, "read_user", 403, INSUFFICIENT_SCOPE),
        (get, "non_member", 404, {"message": "404 Project Not Found"}),
        (get, "job", 401, {"message": "401 Unauthorized"}),
        (write, "read_api", 403, INSUFFICIENT_SCOPE),
        (write, "reporter", 401, {"message": "401 Unauthorized"}),
        (update, "reporter", 401, {"message": "401 Unauthorized"}),
        (write, "job", 401, {"message": "401 Unauthorized"}),
        (write, None, 401, {"message": "401 Unauthorized"}),
    ]
    for (method, endpoint, kwargs), token, status, body in cases:
        r = api.mlflow(method, endpoint, token=token, **kwargs)
        assert (r.status_code, r.json()) == (status, body), (endpoint, token)
    for token in ("read_api", "reporter"):
        r = api.mlflow("GET", "model-versions/get", token=token,
                       params={"name": "m", "version": "1.0.0"})
        assert r.status_code == 200
    assert create_version(api, "m", "2.0.0")["aliases"] == ["2.0.0"]  # nothing was created
