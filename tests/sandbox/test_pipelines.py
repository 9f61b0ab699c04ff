"""Pipelines and jobs: get, list, filters, `GET /job`, and the job token's limits."""

from __future__ import annotations

import gitlab
import pytest

from mlflow_gitlab.sandbox.seed import HEAD_SHA
from tests.gitlab_errors import PROJECT_NOT_FOUND

PIPELINES = "/projects/7/pipelines"


def add_pipeline(api, **fields) -> dict:
    r = api.admin("POST", "/-/sandbox/pipelines", json=fields)
    assert r.status_code == 201, r.text
    return r.json()


def test_python_gitlab_gets_the_seed_pipeline(sandbox, gl):
    pipeline = gl.projects.get(7, lazy=True).pipelines.get(1001)
    assert (pipeline.id, pipeline.iid, pipeline.project_id) == (1001, 1, 7)
    assert (pipeline.status, pipeline.source) == ("running", "merge_request_event")
    assert (pipeline.sha, pipeline.ref) == (HEAD_SHA, "refs/merge-requests/1/head")
    assert pipeline.web_url == f"{sandbox.url}/ml-team/demo-project/-/pipelines/1001"
    assert pipeline.user["username"] == "dev"
    assert pipeline.tag is False
    assert pipeline.duration is None  # not finished
    assert pipeline.detailed_status["group"] == "running"
    assert pipeline.detailed_status["details_path"] == "/ml-team/demo-project/-/pipelines/1001"


def test_pipeline_jobs_scope_filter(gl):
    pipeline = gl.projects.get(7, lazy=True).pipelines.get(1001, lazy=True)
    assert [j.id for j in pipeline.jobs.list(scope=["running"], get_all=True)] == [5002, 5001]
    assert [j.id for j in pipeline.jobs.list(get_all=True)] == [5004, 5003, 5002, 5001]
    assert [j.id for j in pipeline.jobs.list(scope=["created", "running"], get_all=True)] == \
        [5004, 5003, 5002, 5001]


def test_scope_as_a_plain_string_and_invalid_scope(api):
    r = api.request("GET", f"{PIPELINES}/1001/jobs", params={"scope": "created"})
    assert [j["id"] for j in r.json()] == [5004, 5003]
    r = api.request("GET", f"{PIPELINES}/1001/jobs", params={"scope[]": ["running", "bogus"]})
    assert (r.status_code, r.json()) == (400, {"error": "scope does not have a valid value"})


def test_job_entity(sandbox, api):
    r = api.request("GET", "/projects/7/jobs/5001")
    assert r.status_code == 200
    job = r.json()
    assert (job["id"], job["name"], job["stage"], job["status"]) == \
        (5001, "train: [0.01]", "train", "running")
    assert job["pipeline"]["id"] == 1001
    assert job["pipeline"]["sha"] == HEAD_SHA
    assert job["web_url"] == f"{sandbox.url}/ml-team/demo-project/-/jobs/5001"
    assert job["user"]["username"] == "dev"
    assert job["duration"] >= 0
    assert "failure_reason" not in job
    api.admin("PUT", "/-/sandbox/jobs/5002", json={"status": "failed"})
    failed = api.request("GET", "/projects/7/jobs/5002").json()
    assert (failed["status"], failed["failure_reason"]) == ("failed", "script_failure")
    assert failed["finished_at"] is not None


def test_project_jobs_list_has_no_totals(api):
    r = api.request("GET", "/projects/7/jobs", params={"per_page": 3})
    assert [j["id"] for j in r.json()] == [5004, 5003, 5002]
    assert r.headers["X-Next-Page"] == "2"
    assert "X-Total" not in r.headers and "X-Total-Pages" not in r.headers
    assert 'rel="last"' not in r.headers["Link"]


def test_missing_pipeline_and_job_are_record_not_found(api):
    for path in (f"{PIPELINES}/999", f"{PIPELINES}/999/jobs", "/projects/7/jobs/999"):
        r = api.request("GET", path)
        assert (r.status_code, r.json()) == (404, {"message": "404 Not found"}), path
    r = api.request("GET", f"{PIPELINES}/abc")
    assert (r.status_code, r.json()) == (400, {"error": "pipeline_id is invalid"})


def test_pipeline_list_filters(api):
    push = add_pipeline(api, ref="main", source="push", status="success",
                        jobs=[{"name": "build", "status": "success"}])
    tag = add_pipeline(api, ref="v1.0.0", tag=True, source="push", status="failed",
                       user="maintainer")
    add_pipeline(api, ref="main", source="parent_pipeline", status="running")

    def ids(**params) -> list[int]:
        r = api.request("GET", PIPELINES, params=params)
        assert r.status_code == 200, r.text
        return [p["id"] for p in r.json()]

    seed = 1001
    assert ids() == [tag["pipeline_id"], push["pipeline_id"], seed]  # no child pipelines
    assert ids(sort="asc") == [seed, push["pipeline_id"], tag["pipeline_id"]]
    assert ids(status="success") == [push["pipeline_id"]]
    assert ids(scope="finished") == [tag["pipeline_id"], push["pipeline_id"]]
    assert ids(scope="running") == [seed]
    assert ids(scope="branches") == [push["pipeline_id"]]
    assert ids(scope="tags") == [tag["pipeline_id"]]
    assert ids(source="merge_request_event") == [seed]
    assert len(ids(source="parent_pipeline")) == 1
    assert ids(ref="main") == [push["pipeline_id"]]
    assert ids(sha=HEAD_SHA) == [seed]
    assert ids(username="project_7_bot_ml") == [tag["pipeline_id"]]
    # main < refs/merge-requests/1/head < v1.0.0
    assert ids(order_by="ref", sort="asc") == [push["pipeline_id"], seed, tag["pipeline_id"]]
    assert ids(updated_after="2000-01-01T00:00:00Z") == ids()
    assert ids(updated_before="2000-01-01T00:00:00Z") == []


def test_pipeline_list_entries_and_headers(sandbox, api):
    r = api.request("GET", PIPELINES)
    entry = r.json()[0]
    assert set(entry) == {"id", "iid", "project_id", "sha", "ref", "status", "source",
                          "created_at", "updated_at", "web_url", "name"}
    assert (r.headers["X-Total"], r.headers["X-Page"]) == ("1", "1")


def test_invalid_pipeline_filters_are_grape_400(api):
    r = api.request("GET", PIPELINES, params={"status": "done", "source": "cron"})
    assert (r.status_code, r.json()) == (
        400, {"error": "status does not have a valid value, source does not have a valid value"})
    r = api.request("GET", PIPELINES, params={"updated_after": "yesterday"})
    assert (r.status_code, r.json()) == (400, {"error": "updated_after is invalid"})


def test_current_job_with_the_job_token(sandbox, api):
    gl_job = gitlab.Gitlab(sandbox.url, job_token=sandbox.tokens["job"])
    job = gl_job.http_get("/job")
    assert (job["id"], job["pipeline"]["id"], job["status"]) == (5001, 1001, "running")
    r = api.request("GET", "/job", token="developer", transport="private")
    assert (r.status_code, r.json()) == (404, {"message": "404 Job Not Found"})
    r = api.request("GET", "/job", token=None)
    assert (r.status_code, r.json()) == (401, {"message": "401 Unauthorized"})
    r = api.request("GET", "/job", token="glcbt-not-a-real-token", transport="job")
    assert r.status_code == 401


def test_finished_jobs_token_is_rejected_by_get_job(api):
    assert api.request("GET", "/job", token="job", transport="job").status_code == 200
    api.admin("PUT", "/-/sandbox/jobs/5001", json={"status": "canceled"})
    r = api.request("GET", "/job", token="job", transport="job")
    assert (r.status_code, r.json()) == (401, {"message": "401 Unauthorized"})


@pytest.mark.parametrize("path", [f"{PIPELINES}", f"{PIPELINES}/1001", f"{PIPELINES}/1001/jobs",
                                  "/projects/7/jobs", "/projects/7/jobs/5001"])
def test_job_token_cannot_read_pipelines_or_jobs(sandbox, api, path):
    r = api.request("GET", path, token="job", transport="job")
    assert (r.status_code, r.json()) == (404, PROJECT_NOT_FOUND)


def test_job_token_client_cannot_get_a_pipeline(sandbox):
    gl_job = gitlab.Gitlab(sandbox.url, job_token=sandbox.tokens["job"])
    with pytest.raises(gitlab.GitlabGetError) as excinfo:
        gl_job.projects.get(7, lazy=True).pipelines.get(1001)
    assert excinfo.value.response_code == 404


@pytest.mark.parametrize(("token", "status"), [
    (None, 404), ("glpat-not-a-real-token", 401), ("read_api", 200), ("reporter", 200),
    ("non_member", 404), ("read_user", 403),
])
def test_auth_matrix(api, token, status):
    for path in (PIPELINES, f"{PIPELINES}/1001", f"{PIPELINES}/1001/jobs", "/projects/7/jobs/5001"):
        r = api.request("GET", path, token=token, transport="private")
        assert r.status_code == status, path
        if status == 404:
            assert r.json() == PROJECT_NOT_FOUND
