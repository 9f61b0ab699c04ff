"""Merge requests: get and list with filters, and who may read them."""

from __future__ import annotations

import gitlab
import pytest

from mlflow_gitlab.sandbox.seed import BASE_SHA, HEAD_SHA, SOURCE_BRANCH
from tests.gitlab_errors import PROJECT_NOT_FOUND

MRS = "/projects/7/merge_requests"


def add_mr(api, **fields) -> dict:
    body = {"title": "Another", "source_branch": "other", **fields}
    r = api.admin("POST", "/-/sandbox/merge_requests", json=body)
    assert r.status_code == 201, r.text
    return r.json()


def test_python_gitlab_gets_the_seed_mr(sandbox, gl):
    mr = gl.projects.get(7, lazy=True).mergerequests.get(1)
    assert (mr.id, mr.iid, mr.project_id) == (301, 1, 7)
    assert mr.title == "Tune the learning rate"
    assert mr.state == "opened"
    assert mr.labels == ["ml", "model::minor"]
    assert mr.source_branch == SOURCE_BRANCH
    assert mr.target_branch == "main"
    assert mr.sha == HEAD_SHA
    assert mr.diff_refs == {"base_sha": BASE_SHA, "head_sha": HEAD_SHA, "start_sha": BASE_SHA}
    assert mr.web_url == f"{sandbox.url}/ml-team/demo-project/-/merge_requests/1"
    assert mr.author["username"] == "dev"
    assert mr.references["full"] == "ml-team/demo-project!1"
    assert mr.head_pipeline["id"] == 1001
    assert mr.head_pipeline["status"] == "running"
    assert mr.user == {"can_merge": True}


def test_find_the_mr_of_a_branch(api):
    add_mr(api, source_branch="other-branch")
    r = api.request("GET", MRS, params={"state": "opened", "source_branch": SOURCE_BRANCH})
    assert r.status_code == 200
    assert [m["iid"] for m in r.json()] == [1]
    assert r.headers["X-Total"] == "1"
    r = api.request("GET", MRS, params={"state": "merged", "source_branch": SOURCE_BRANCH})
    assert r.json() == []


def test_list_filters_and_order(api):
    second = add_mr(api, labels=["ml"], target_branch="release")
    assert (second["iid"], second["id"]) == (2, 302)

    def iids(**params) -> list[int]:
        r = api.request("GET", MRS, params=params)
        assert r.status_code == 200, r.text
        return [m["iid"] for m in r.json()]

    assert iids() == [2, 1]  # created_at desc
    assert iids(sort="asc") == [1, 2]
    assert iids(target_branch="release") == [2]
    assert iids(labels="ml,model::minor") == [1]
    assert iids(labels="ml") == [2, 1]
    assert iids(**{"iids[]": ["1"]}) == [1]
    assert iids(author_username="dev") == [2, 1]


def test_invalid_filters_are_grape_400(api):
    r = api.request("GET", MRS, params={"state": "bogus", "sort": "up"})
    assert (r.status_code, r.json()) == (
        400, {"error": "state does not have a valid value, sort does not have a valid value"})


def test_missing_mr_is_record_not_found(api):
    r = api.request("GET", f"{MRS}/99")
    assert (r.status_code, r.json()) == (404, {"message": "404 Not found"})
    r = api.request("GET", f"{MRS}/abc")
    assert (r.status_code, r.json()) == (400, {"error": "merge_request_iid is invalid"})


def test_job_token_reads_mrs(sandbox):
    gl_job = gitlab.Gitlab(sandbox.url, job_token=sandbox.tokens["job"])
    project = gl_job.projects.get(7, lazy=True)
    assert project.mergerequests.get(1).labels == ["ml", "model::minor"]
    assert [m.iid for m in project.mergerequests.list(state="opened", get_all=True)] == [1]


def test_finished_jobs_token_is_rejected(api):
    assert api.request("GET", f"{MRS}/1", token="job", transport="job").status_code == 200
    r = api.admin("PUT", "/-/sandbox/jobs/5001", json={"status": "success"})
    assert r.status_code == 200
    r = api.request("GET", f"{MRS}/1", token="job", transport="job")
    assert (r.status_code, r.json()) == (401, {"message": "401 Unauthorized"})


@pytest.mark.parametrize(("token", "transport", "status"), [
    (None, "private", 404),
    ("glpat-not-a-real-token", "private", 401),
    ("read_api", "private", 200),
    ("reporter", "bearer", 200),
    ("maintainer", "private", 200),
    ("non_member", "private", 404),
    ("job", "job", 200),
])
def test_auth_matrix(api, token, transport, status):
    for path in (MRS, f"{MRS}/1"):
        r = api.request("GET", path, token=token, transport=transport)
        assert r.status_code == status, path
        if status == 404:
            assert r.json() == PROJECT_NOT_FOUND


def test_token_without_api_scope_is_403(api):
    r = api.request("GET", f"{MRS}/1", token="read_user", transport="private")
    assert (r.status_code, r.json()["error"]) == (403, "insufficient_scope")


def test_reporter_cannot_merge(api):
    r = api.request("GET", f"{MRS}/1", token="reporter")
    assert r.json()["user"] == {"can_merge": False}


def test_list_is_paginated(api):
    for n in range(3):
        add_mr(api, source_branch=f"b{n}")
    r = api.request("GET", MRS, params={"per_page": 2, "page": 2})
    assert [m["iid"] for m in r.json()] == [2, 1]
    assert (r.headers["X-Page"], r.headers["X-Total"], r.headers["X-Prev-Page"]) == \
        ("2", "4", "1")
    assert r.headers["X-Next-Page"] == ""
