"""ML model package files and the MLflow artifact proxy against the sandbox."""

from __future__ import annotations

from pathlib import Path

import mlflow
import pytest

from mlflow_gitlab.sandbox.backend.candidates import insert_candidate
from mlflow_gitlab.sandbox.backend.experiments import insert_experiment
from mlflow_gitlab.sandbox.backend.projects import GUEST
from tests.gitlab_errors import (
    INSUFFICIENT_SCOPE,
    NOT_EXIST,
    NOT_FOUND,
    PROJECT_NOT_FOUND,
    UNAUTHORIZED,
)

FILES = "/projects/7/packages/ml_models"


def new_run(sandbox, experiment: str = "exp") -> int:
    """A run (candidate) made directly in the store; returns its iid."""
    store = sandbox.app.store
    with store.tx() as db:
        row = db.execute("SELECT * FROM experiments WHERE name = ?", (experiment,)).fetchone()
        if row is None:
            row = insert_experiment(db, 7, experiment, 11)
        return insert_candidate(db, 7, row["id"], name="r", start_time=0, user_id=11)["iid"]


def put(api, target: str, path: str, data: bytes = b"bytes", **kwargs):
    return api.request("PUT", f"{FILES}/{target}/files/{path}", data=data, **kwargs)


def get(api, target: str, path: str, **kwargs):
    return api.request("GET", f"{FILES}/{target}/files/{path}", **kwargs)


def artifacts(api, suffix: str = "", **kwargs):
    url = api.url("/projects/7/ml/mlflow/api/2.0/mlflow-artifacts/artifacts" + suffix)
    return api.request(kwargs.pop("method", "GET"), url, **kwargs)


def create_version(api, model: str, version: str) -> str:
    r = api.mlflow("POST", "registered-models/create", json={"name": model})
    assert r.status_code == 200
    r = api.mlflow("POST", "model-versions/create",
                   json={"name": model, "tags": [{"key": "gitlab.version", "value": version}]})
    assert r.status_code == 200
    return r.json()["model_version"]["version"]


# --- upload and download ---------------------------------------------------------------------


def test_first_upload_to_a_run_creates_its_package(sandbox, api):
    iid = new_run(sandbox)
    r = api.mlflow("GET", "runs/get", params={"run_id": sandbox.app.store.one(
        "SELECT eid FROM candidates")["eid"]})
    assert r.json()["run"]["info"]["artifact_uri"] == \
        f"{sandbox.api_url}{FILES}/candidate:{iid}/files/"

    r = put(api, f"candidate:{iid}", "model.pkl", b"first")
    assert (r.status_code, r.content) == (201, b'{"message":"201 Created"}')
    r = put(api, f"candidate%3A{iid}", "model.pkl", b"second")  # `:` sent encoded
    assert r.status_code == 201

    store = sandbox.app.store
    packages = store.all("SELECT * FROM packages")
    assert [(p["package_type"], p["name"], p["version"]) for p in packages] == [
        ("ml_model", "ml_experiment_1", f"candidate_{iid}")]
    assert store.one("SELECT package_id FROM candidates")["package_id"] == packages[0]["id"]
    eid = store.one("SELECT eid FROM candidates")["eid"]
    r = api.mlflow("GET", "runs/get", params={"run_id": eid})
    assert r.json()["run"]["info"]["artifact_uri"] == f"mlflow-artifacts:/candidate:{iid}"

    r = get(api, f"candidate:{iid}", "model.pkl")
    assert (r.status_code, r.content) == (200, b"second")  # the newest file wins
    assert r.headers["Content-Type"] == "application/octet-stream"
    assert r.headers["Content-Disposition"] == 'attachment; filename="model.pkl"'


def test_run_of_a_model_experiment_uses_the_model_name(sandbox, api):
    r = api.mlflow("POST", "registered-models/create", json={"name": "churn"})
    assert r.status_code == 200
    iid = new_run(sandbox, "[model]churn")
    assert put(api, f"candidate:{iid}", "w.bin").status_code == 201
    package = sandbox.app.store.one("SELECT name, version FROM packages")
    assert tuple(package) == ("churn", f"candidate_{iid}")


def test_upload_to_a_model_version_goes_into_its_package(sandbox, api):
    version_id = create_version(api, "churn", "1.2.3")
    assert put(api, version_id, "model.pkl", b"weights").status_code == 201
    rows = sandbox.app.store.all(
        "SELECT p.name, p.version, f.file_name FROM package_files f "
        "JOIN packages p ON p.id = f.package_id")
    assert [tuple(r) for r in rows] == [("churn", "1.2.3", "model.pkl")]
    assert get(api, version_id, "model.pkl").content == b"weights"


def test_sub_paths_and_spaces_are_stored_uri_encoded(sandbox, api):
    iid = new_run(sandbox)
    assert put(api, f"candidate:{iid}", "my_dir/sub/model.pkl", b"deep").status_code == 201
    assert put(api, f"candidate:{iid}", "my file+v1.txt", b"spaced").status_code == 201
    names = [r["file_name"] for r in sandbox.app.store.all(
        "SELECT file_name FROM package_files ORDER BY id")]
    assert names == ["my_dir%2Fsub%2Fmodel.pkl", "my%20file%2Bv1.txt"]
    assert get(api, f"candidate:{iid}", "my_dir/sub/model.pkl").content == b"deep"
    assert get(api, f"candidate:{iid}", "my%20file%2Bv1.txt").content == b"spaced"


@pytest.mark.parametrize(("path", "body"), [
    ("a$b.txt", {"error": "file_name is invalid"}),
    ("dir/caf%C3%A9.txt", {"error": "file_name is invalid"}),
    ("..%2f.ssh%2fauthorized_keys", {"error": "file_name should be a valid file path"}),
    ("%2e%2e%2f.ssh%2fauthorized_keys", {"error": "file_name should be a valid file path"}),
])
def test_invalid_file_names_are_400(sandbox, api, path, body):
    iid = new_run(sandbox)
    for method in ("PUT", "GET"):
        r = api.request(method, f"{FILES}/candidate:{iid}/files/{path}", data=b"x")
        assert (r.status_code, r.json()) == (400, body), method
    assert sandbox.app.store.one("SELECT COUNT(*) AS n FROM package_files")["n"] == 0


def test_file_over_the_size_limit_is_400(sandbox, api):
    sandbox.app.settings.ml_model_max_file_size = 10
    iid = new_run(sandbox)
    too_large = (400, {"message": "400 Bad request - Artifact file is too large"})
    r = put(api, f"candidate:{iid}", "big.bin", b"x" * 11)
    assert (r.status_code, r.json()) == too_large
    chunked = put(api, f"candidate:{iid}", "big.bin", iter([b"x" * 6, b"x" * 6]))
    assert (chunked.status_code, chunked.json()) == too_large  # no Content-Length to check
    assert sandbox.app.store.one("SELECT COUNT(*) AS n FROM package_files")["n"] == 0
    assert put(api, f"candidate:{iid}", "ok.bin", b"x" * 10).status_code == 201


@pytest.mark.parametrize("target", ["candidate:99", "candidate:x", "12345", "abc"])
def test_unknown_run_or_version_is_404(sandbox, api, target):
    new_run(sandbox)
    for method in ("PUT", "GET"):
        r = api.request(method, f"{FILES}/{target}/files/f.txt", data=b"x")
        assert (r.status_code, r.json()) == (404, NOT_FOUND), method


def test_unknown_file_is_404(sandbox, api):
    iid = new_run(sandbox)
    r = get(api, f"candidate:{iid}", "f.txt")  # a run without uploads has no package yet
    assert (r.status_code, r.json()) == (404, NOT_FOUND)
    put(api, f"candidate:{iid}", "f.txt")
    r = get(api, f"candidate:{iid}", "other.txt")
    assert (r.status_code, r.json()) == (404, NOT_FOUND)


def test_status_parameter(sandbox, api):
    iid = new_run(sandbox)
    r = put(api, f"candidate:{iid}", "f.txt", params={"status": "bogus"})
    assert (r.status_code, r.json()) == (400, {"error": "status does not have a valid value"})
    assert put(api, f"candidate:{iid}", "f.txt", params={"status": "hidden"}).status_code == 201
    assert sandbox.app.store.one("SELECT status FROM packages")["status"] == "hidden"


# --- auth -----------------------------------------------------------------------------------------


def test_job_token_is_accepted_as_bearer_only(sandbox, api):
    iid = new_run(sandbox)
    assert put(api, f"candidate:{iid}", "f.txt", b"job", token="job").status_code == 201
    assert get(api, f"candidate:{iid}", "f.txt", token="job").content == b"job"
    r = put(api, f"candidate:{iid}", "f.txt", token="job", transport="job")
    assert (r.status_code, r.json()) == (401, UNAUTHORIZED)  # JOB-TOKEN is not read here
    with sandbox.app.store.tx() as db:
        db.execute("UPDATE jobs SET status = 'success' WHERE id = 5001")
    r = put(api, f"candidate:{iid}", "f.txt", token="job")
    assert (r.status_code, r.json()) == (401, UNAUTHORIZED)  # valid only while the job runs


def test_private_token_header_is_not_read(sandbox, api):
    """`sent_through(:http_token)` in `lib/api/ml_model_packages.rb`: a PRIVATE-TOKEN is
    no credential here, so the caller is anonymous."""
    iid = new_run(sandbox)
    assert put(api, f"candidate:{iid}", "f.txt", b"x").status_code == 201
    r = put(api, f"candidate:{iid}", "f.txt", token="developer", transport="private")
    assert (r.status_code, r.json()) == (401, UNAUTHORIZED)
    r = get(api, f"candidate:{iid}", "f.txt", token="developer", transport="private")
    assert (r.status_code, r.json()) == (404, PROJECT_NOT_FOUND)


def test_auth_matrix_for_ml_model_files(sandbox, api):
    iid = new_run(sandbox)
    assert put(api, f"candidate:{iid}", "f.txt").status_code == 201
    with sandbox.app.store.tx() as db:  # make the non-member a Guest
        db.execute("INSERT INTO members VALUES (7, 14, ?)", (GUEST,))
    cases = [
        ("PUT", None, 401, UNAUTHORIZED),
        ("GET", None, 404, PROJECT_NOT_FOUND),  # anonymous on a private project
        ("PUT", "glpat-invalid", 401, UNAUTHORIZED),
        ("GET", "glpat-invalid", 401, UNAUTHORIZED),
        ("PUT", "read_api", 403, INSUFFICIENT_SCOPE),
        ("GET", "read_user", 403, INSUFFICIENT_SCOPE),
        ("PUT", "reporter", 403, {"message": "403 Forbidden"}),
        ("PUT", "non_member", 403, {"message": "403 Forbidden"}),  # now a Guest
    ]
    for method, token, status, body in cases:
        r = api.request(method, f"{FILES}/candidate:{iid}/files/f.txt", token=token, data=b"x")
        assert (r.status_code, r.json()) == (status, body), (method, token)
    for token in ("read_api", "reporter", "non_member", "maintainer"):
        assert get(api, f"candidate:{iid}", "f.txt", token=token).status_code == 200, token
    assert put(api, f"candidate:{iid}", "f.txt", token="maintainer").status_code == 201


def test_non_member_and_public_projects(sandbox, api):
    iid = new_run(sandbox)
    assert put(api, f"candidate:{iid}", "f.txt", b"pub").status_code == 201
    r = get(api, f"candidate:{iid}", "f.txt", token="non_member")
    assert (r.status_code, r.json()) == (404, PROJECT_NOT_FOUND)
    with sandbox.app.store.tx() as db:
        db.execute("UPDATE projects SET visibility = 'public' WHERE id = 7")
    assert get(api, f"candidate:{iid}", "f.txt", token=None).content == b"pub"
    r = put(api, f"candidate:{iid}", "f.txt", token="non_member")
    assert (r.status_code, r.json()) == (403, {"message": "403 Forbidden"})


# --- the artifact proxy ---------------------------------------------------------------------------


def test_proxy_lists_a_run_flat_and_any_sub_path_as_empty(sandbox, api):
    iid = new_run(sandbox)
    put(api, f"candidate:{iid}", "model.pkl", b"12345")
    put(api, f"candidate:{iid}", "my_dir/conf.yaml", b"a: 1")
    expected = {"files": [
        {"path": "model.pkl", "file_size": 5, "is_dir": False},
        {"path": "my_dir%2Fconf.yaml", "file_size": 4, "is_dir": False}]}
    for path in (f"candidate:{iid}", f"candidate:{iid}/"):
        r = artifacts(api, params={"path": path})
        assert (r.status_code, r.json()) == (200, expected), path
    for path in (f"candidate:{iid}/my_dir", "999/anything", "candidate:99/x"):
        assert artifacts(api, params={"path": path}).json() == {"files": []}, path


def test_proxy_lists_and_downloads_a_model_version(api):
    version_id = create_version(api, "churn", "1.0.0")
    put(api, version_id, "my_dir/model.pkl", b"weights")
    r = artifacts(api, params={"path": version_id})
    assert r.json() == {"files": [{"path": "my_dir%2Fmodel.pkl", "file_size": 7,
                                   "is_dir": False}]}
    for suffix in (f"/{version_id}/my_dir/model.pkl", f"/{version_id}/my_dir%2Fmodel.pkl"):
        r = artifacts(api, suffix)
        assert (r.status_code, r.content) == (200, b"weights"), suffix
        assert r.headers["Content-Disposition"] == 'attachment; filename="my_dir%2Fmodel.pkl"'


@pytest.mark.parametrize("params", [{"path": "candidate:99"}, {"path": "12345"},
                                    {"path": "candidate:1"}, {}])
def test_proxy_listing_of_unknown_or_empty_targets_is_404(sandbox, api, params):
    new_run(sandbox)  # candidate:1 exists but has uploaded nothing
    r = artifacts(api, params=params)
    assert (r.status_code, r.content) == (404, b'{"error_code":"RESOURCE_DOES_NOT_EXIST"}')


def test_proxy_download_lookups(sandbox, api):
    iid = new_run(sandbox)
    put(api, f"candidate:{iid}", "model.pkl", b"m")
    put(api, f"candidate:{iid}", "my file.txt", b"s")
    r = artifacts(api, f"/candidate%3A{iid}/model.pkl")
    assert (r.status_code, r.content) == (200, b"m")
    # GitLab looks names up with CGI.escape (space -> `+`), so `my%20file.txt` is unreachable
    for suffix in (f"/candidate:{iid}/my%20file.txt", f"/candidate:{iid}/other.txt",
                   "/candidate:99/model.pkl", "/12345/model.pkl"):
        r = artifacts(api, suffix)
        assert (r.status_code, r.json()) == (404, NOT_EXIST), suffix


def test_proxy_is_read_only(sandbox, api):
    iid = new_run(sandbox)
    r = artifacts(api, f"/candidate:{iid}/model.pkl", method="PUT", data=b"x")
    assert (r.status_code, r.json()) == (404, {"error": "404 Not Found"})  # the catch-all
    r = artifacts(api, method="POST", params={"path": f"candidate:{iid}"})
    assert r.status_code == 404


def test_proxy_auth_matrix(sandbox, api):
    iid = new_run(sandbox)
    put(api, f"candidate:{iid}", "f.txt")
    cases = [(None, 401, UNAUTHORIZED), ("glpat-invalid", 401, UNAUTHORIZED),
             ("job", 401, UNAUTHORIZED), ("read_user", 403, INSUFFICIENT_SCOPE),
             ("non_member", 404, PROJECT_NOT_FOUND)]
    for token, status, body in cases:
        for suffix, params in (("", {"path": f"candidate:{iid}"}), (f"/candidate:{iid}/f.txt", {})):
            r = artifacts(api, suffix, token=token, params=params)
            assert (r.status_code, r.json()) == (status, body), (token, suffix)
    for token in ("reporter", "read_api"):
        assert artifacts(api, f"/candidate:{iid}/f.txt", token=token).status_code == 200


# --- end to end with the stock client -------------------------------------------------------------


def test_fluent_log_artifact_then_download_through_the_proxy(mlflow_env, mlflow_client,
                                                             tmp_path):
    local = tmp_path / "metrics.txt"
    local.write_text("loss=0.1")
    mlflow.set_experiment("e2e")
    with mlflow.start_run() as run:
        mlflow.log_artifact(str(local))
        mlflow.log_artifact(str(local), artifact_path="reports")  # stored flat
    info = mlflow_client.get_run(run.info.run_id).info
    iid = info.artifact_uri.rsplit(":", 1)[1]
    assert info.artifact_uri == f"mlflow-artifacts:/candidate:{iid}"  # switched

    listed = mlflow_client.list_artifacts(run.info.run_id)
    assert sorted(f.path for f in listed) == ["metrics.txt", "reports/metrics.txt"]
    # a sub-path is never a directory; MLflow 3's client would also look for a
    # logged model named "reports" there, which GitLab lacks: ask the proxy
    assert mlflow.artifacts.list_artifacts(f"mlflow-artifacts:/candidate:{iid}/reports") == []

    out = mlflow.artifacts.download_artifacts(
        artifact_uri=f"mlflow-artifacts:/candidate:{iid}/reports/metrics.txt",
        dst_path=str(tmp_path / "a"))
    assert Path(out).read_text() == "loss=0.1"
    out = mlflow_client.download_artifacts(run.info.run_id, "metrics.txt", str(tmp_path / "b"))
    assert Path(out).read_text() == "loss=0.1"
