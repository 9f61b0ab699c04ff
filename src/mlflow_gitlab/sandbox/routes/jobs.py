"""CI jobs: a pipeline's jobs, a project's jobs, one job, and `GET /job`.

Only `GET /job` takes the job token (Family.CURRENT_JOB); the others are Family.REST and
read access tokens only (`lib/api/ci/jobs.rb`, `lib/api/ci/pipelines.rb`).
"""

from __future__ import annotations

import sqlite3
from typing import Any

from mlflow_gitlab.sandbox import auth, web
from mlflow_gitlab.sandbox.auth import Family
from mlflow_gitlab.sandbox.backend import jobs
from mlflow_gitlab.sandbox.backend.pipelines import get_pipeline
from mlflow_gitlab.sandbox.backend.projects import REPORTER, get_project
from mlflow_gitlab.sandbox.backend.store import iso8601
from mlflow_gitlab.sandbox.router import Router

from .pipelines import JOB_SCOPES, elapsed, find_pipeline, pipeline_basic
from .rest_common import (
    Params,
    paginated_json,
    path_int,
    project_url,
    record_not_found,
    require_role,
    user_full,
)

# Statuses in which a job has not been queued yet, so it has no queued_duration.
_NOT_QUEUED = ("created", "manual", "scheduled", "skipped")


def register(router: Router) -> None:
    """Register the job routes."""
    route = router.route

    @route("GET", "/projects/:id/pipelines/:pipeline_id/jobs", Family.REST)
    def pipeline_jobs(req: web.Request) -> web.Response:
        scope = _scope(req)
        require_role(req, REPORTER)  # `authorize!(:read_pipeline, user_project)`
        pipeline = find_pipeline(req)
        rows = jobs.list_jobs(req.app.store, pipeline_id=pipeline["id"], statuses=scope)
        return paginated_json(req, rows, lambda j: job_json(req, req.project, j, pipeline))

    @route("GET", "/projects/:id/jobs", Family.REST)
    def project_jobs(req: web.Request) -> web.Response:
        scope = _scope(req)
        require_role(req, REPORTER)  # `authorize_read_builds!`
        rows = jobs.list_jobs(req.app.store, project_id=req.project["id"], statuses=scope)
        response = paginated_json(req, rows, lambda j: job_json(req, req.project, j))
        return _without_count(response)

    @route("GET", "/projects/:id/jobs/:job_id", Family.REST)
    def get_job(req: web.Request) -> web.Response:
        require_role(req, REPORTER)
        job = jobs.find_job(req.app.store, req.project["id"], path_int(req, "job_id"))
        if job is None:
            raise record_not_found()  # `find_build!`
        return web.Response(200, job_json(req, req.project, job))

    @route("GET", "/job", Family.CURRENT_JOB)
    def current_job(req: web.Request) -> web.Response:
        principal = req.principal
        if principal is None or principal.job_id is None:
            _reject_non_job_caller(req)
        store = req.app.store
        job = jobs.get_job(store, principal.job_id)
        project = get_project(store, job["project_id"])
        return web.Response(200, job_json(req, project, job))


def _scope(req: web.Request) -> list[str] | None:
    """The `scope` / `scope[]` filter, validated before anything else as Grape does."""
    params = Params(req)
    scope = params.choices("scope", JOB_SCOPES)
    params.check()
    return scope


def _reject_non_job_caller(req: web.Request) -> None:
    """`GET /job` without a job token: 401, or 404 `Job Not Found` for an access token.

    GitLab authenticates any token here, but only a job token names a current job
    (`validate_current_authenticated_job`); an invalid access token is still 401.
    """
    caller = auth.authenticate(req.app.store, Family.REST, req.method, req.headers, req.query)
    if caller is None:
        raise web.unauthorized()
    raise web.not_found("Job")


def _without_count(response: web.Response) -> web.Response:
    """`GET /projects/:id/jobs` paginates `without_count`: no totals and no rel="last"."""
    headers = response.headers
    headers.pop("X-Total", None)
    headers.pop("X-Total-Pages", None)
    links = [link for link in headers.get("Link", "").split(", ")
             if link and not link.endswith('rel="last"')]
    headers["Link"] = ", ".join(links)
    return response


def job_json(req: web.Request, project: sqlite3.Row, job: sqlite3.Row,
             pipeline: sqlite3.Row | None = None) -> dict[str, Any]:
    """GitLab's `Ci::Job` entity."""
    if pipeline is None:
        pipeline = get_pipeline(req.app.store, job["pipeline_id"])
    started, finished = job["started_at"], job["finished_at"]
    not_queued = job["status"] in _NOT_QUEUED and started is None
    body: dict[str, Any] = {
        "id": job["id"], "status": job["status"], "stage": job["stage"], "name": job["name"],
        "ref": job["ref"], "tag": bool(pipeline["tag"]), "coverage": None,
        "allow_failure": bool(job["allow_failure"]),
        "created_at": iso8601(job["created_at"]), "started_at": iso8601(started),
        "finished_at": iso8601(finished), "erased_at": None,
        "duration": elapsed(started, finished),
        "queued_duration": None if not_queued else elapsed(job["created_at"], started),
        "user": user_full(req, job["user_id"]),
        "commit": _commit(req, project, pipeline),
        "pipeline": pipeline_basic(req, project, pipeline),
        "web_url": f"{project_url(req, project)}/-/jobs/{job['id']}",
        "project": {"ci_job_token_scope_enabled": False},
        "artifacts": [], "runner": None, "runner_manager": None, "artifacts_expire_at": None,
        "archived": False, "tag_list": [],
    }
    if job["status"] == "failed":
        body["failure_reason"] = "script_failure"  # only exposed on failed jobs
    return body


def _commit(req: web.Request, project: sqlite3.Row, pipeline: sqlite3.Row) -> dict[str, Any]:
    """The pipeline's commit; the sandbox has no repository, so only the SHA is real."""
    sha = pipeline["sha"]
    created = iso8601(pipeline["created_at"])
    return {
        "id": sha, "short_id": sha[:8], "created_at": created, "parent_ids": [],
        "title": "", "message": "", "author_name": "", "author_email": "",
        "authored_date": created, "committer_name": "", "committer_email": "",
        "committed_date": created, "trailers": {}, "extended_trailers": {},
        "web_url": f"{project_url(req, project)}/-/commit/{sha}",
    }
