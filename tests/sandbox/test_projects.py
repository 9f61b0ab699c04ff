"""`GET` and `PUT /projects/:id`: the project entity, who may read it and who may update it."""

from __future__ import annotations

import gitlab
import pytest

from tests.gitlab_errors import PROJECT_NOT_FOUND


def test_python_gitlab_gets_the_project_by_id(sandbox, gl):
    project = gl.projects.get(7)
    assert project.id == 7
    assert project.path_with_namespace == "ml-team/demo-project"
    assert project.path == "demo-project"
    assert project.name_with_namespace == "ml-team / demo-project"
    assert project.web_url == f"{sandbox.url}/ml-team/demo-project"
    assert project.http_url_to_repo == f"{sandbox.url}/ml-team/demo-project.git"
    assert project.default_branch == "main"
    assert project.visibility == "private"
    assert project.namespace["full_path"] == "ml-team"
    assert project.namespace["kind"] == "group"
    assert project.permissions["project_access"]["access_level"] == 30


def test_python_gitlab_gets_the_project_by_full_path(gl):
    project = gl.projects.get("ml-team/demo-project")  # sent as ml-team%2Fdemo-project
    assert project.id == 7


def test_unencoded_path_is_an_unknown_route(api):
    r = api.request("GET", "/projects/ml-team/demo-project")
    assert (r.status_code, r.json()) == (404, {"error": "404 Not Found"})


def test_missing_project_is_404(api):
    for ref in ("99", "ml-team%2Fnope"):
        r = api.request("GET", f"/projects/{ref}")
        assert (r.status_code, r.json()) == (404, PROJECT_NOT_FOUND)


def test_bot_token_sees_its_maintainer_role(api):
    r = api.request("GET", "/projects/7", token="maintainer", transport="private")
    assert r.status_code == 200
    assert r.json()["permissions"] == {
        "project_access": {"access_level": 40, "notification_level": 3}, "group_access": None}


@pytest.mark.parametrize(("token", "transport", "status", "body"), [
    (None, "private", 404, PROJECT_NOT_FOUND),
    ("glpat-not-a-real-token", "private", 401, {"message": "401 Unauthorized"}),
    ("read_api", "private", 200, None),
    ("reporter", "bearer", 200, None),
    ("non_member", "private", 404, PROJECT_NOT_FOUND),
    # The job token is not read on this route: the call is anonymous.
    ("job", "job", 404, PROJECT_NOT_FOUND),
])
def test_auth_matrix(api, token, transport, status, body):
    r = api.request("GET", "/projects/7", token=token, transport=transport)
    assert r.status_code == status
    if body is not None:
        assert r.json() == body


def test_token_without_api_scope_is_403(api):
    r = api.request("GET", "/projects/7", token="read_user", transport="private")
    assert r.status_code == 403
    assert r.json()["error"] == "insufficient_scope"


def test_job_token_client_must_use_a_lazy_project(sandbox):
    gl_job = gitlab.Gitlab(sandbox.url, job_token=sandbox.tokens["job"])
    with pytest.raises(gitlab.GitlabGetError) as excinfo:
        gl_job.projects.get(7)
    assert excinfo.value.response_code == 404
    assert gl_job.projects.get(7, lazy=True).mergerequests.get(1).iid == 1


def test_public_project_is_readable_anonymously(sandbox, api):
    with sandbox.app.store.tx() as db:
        db.execute("UPDATE projects SET visibility = 'public' WHERE id = 7")
    r = api.request("GET", "/projects/7", token=None)
    assert r.status_code == 200
    assert r.json()["visibility"] == "public"
    assert r.json()["permissions"]["project_access"] is None


def test_a_maintainer_sets_the_description_python_gitlab_reads(sandbox, gl):
    maintainer = gitlab.Gitlab(sandbox.url, private_token=sandbox.tokens["maintainer"])
    project = maintainer.projects.get(sandbox.project_id)
    project.description = "Reusable CI for MLflow"
    project.save()
    assert gl.projects.get(sandbox.project_id).description == "Reusable CI for MLflow"


@pytest.mark.parametrize("token, status", [("developer", 403), (None, 401), ("read_api", 403)])
def test_only_maintainers_update_a_project(api, token, status):
    response = api.request("PUT", f"/projects/{api.sandbox.project_id}", token=token,
                           json={"description": "x"})
    assert response.status_code == status
    assert api.request("GET", f"/projects/{api.sandbox.project_id}",
                       token="maintainer").json()["description"] == ""


def test_an_update_naming_nothing_it_can_change_is_400(api):
    response = api.request("PUT", f"/projects/{api.sandbox.project_id}", token="maintainer",
                           json={"topics": ["ml"]})
    assert response.status_code == 400
    assert response.json() == {
        "error": "description are missing, at least one parameter must be provided"}


def test_a_data_folder_from_before_descriptions_gets_the_column(tmp_path):
    import sqlite3

    from mlflow_gitlab.sandbox.backend.store import Store
    from mlflow_gitlab.sandbox.data_dir import DATABASE

    Store(tmp_path).close()
    with sqlite3.connect(tmp_path / DATABASE) as db:
        db.execute("INSERT INTO projects (id, path, name, created_at) VALUES (1, 'g/p', 'p', 0)")
        db.execute("ALTER TABLE projects DROP COLUMN description")
    store = Store(tmp_path)
    assert store.one("SELECT description FROM projects WHERE id = 1")["description"] == ""
    store.close()
