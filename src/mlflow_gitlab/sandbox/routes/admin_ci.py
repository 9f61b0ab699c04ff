"""The sandbox's CI control routes: create pipelines, jobs and MRs; finish jobs.

Not part of GitLab's API (GitLab creates these from pushes and runners). Tests and external
CI runners use them to stage what a real pipeline would look like; each job gets its own
job token, which lives only while the job is `running` (auth.py checks that). They need the
sandbox's admin token, as every control route does.

    POST /-/sandbox/pipelines            {ref, sha, source, status, user, jobs: [{name,...}]}
    PUT  /-/sandbox/pipelines/:id        {status}
    PUT  /-/sandbox/jobs/:id             {status}
    POST /-/sandbox/merge_requests       {title, source_branch, target_branch, labels, ...}
    POST /-/sandbox/merge_requests/:iid/merge   {merge_commit_sha, squash, user}

With `Settings.register_unknown_jobs` (e2e only), a run tagged with an unknown
`gitlab.CI_JOB_ID` registers that job instead of failing
(`backend.pipelines.register_unknown_job`).
"""

from __future__ import annotations

import sqlite3
from typing import Any

from mlflow_gitlab.sandbox import web
from mlflow_gitlab.sandbox.auth import Family
from mlflow_gitlab.sandbox.backend import jobs as ci_jobs
from mlflow_gitlab.sandbox.backend import merge_requests
from mlflow_gitlab.sandbox.backend.errors import NotFound
from mlflow_gitlab.sandbox.backend.pipelines import SOURCES, STATUSES, insert_pipeline, new_sha
from mlflow_gitlab.sandbox.backend.projects import find_project
from mlflow_gitlab.sandbox.backend.users import user_id_named
from mlflow_gitlab.sandbox.router import Router

from .merge_requests import merge_request_json
from .ml_common import required
from .rest_common import path_int, record_not_found

PREFIX = "/-/sandbox"


def register(router: Router) -> None:
    """Register the CI control routes."""
    route = router.route

    @route("POST", "/pipelines", Family.ADMIN, prefix=PREFIX)
    def create_pipeline(req: web.Request) -> web.Response:
        return web.Response(201, _create_pipeline(req))

    @route("PUT", "/pipelines/:pipeline_id", Family.ADMIN, prefix=PREFIX)
    def set_pipeline_status(req: web.Request) -> web.Response:
        return web.Response(200, _set_status(req, "pipelines", "pipeline_id"))

    @route("PUT", "/jobs/:job_id", Family.ADMIN, prefix=PREFIX)
    def set_job_status(req: web.Request) -> web.Response:
        return web.Response(200, _set_status(req, "jobs", "job_id"))

    @route("POST", "/merge_requests", Family.ADMIN, prefix=PREFIX)
    def create_mr(req: web.Request) -> web.Response:
        project = _project(req)
        title, source = required(req, "title", "source_branch")
        labels = req.params.get("labels") or []
        if isinstance(labels, str):
            labels = [label.strip() for label in labels.split(",") if label.strip()]
        with req.app.store.tx() as db:
            mr_id = merge_requests.create_merge_request(
                db, project["id"], title=str(title), source_branch=str(source),
                target_branch=str(req.params.get("target_branch") or project["default_branch"]),
                labels=[str(label) for label in labels],
                description=str(req.params.get("description") or ""),
                sha=str(req.params.get("sha") or _sha()),
                base_sha=str(req.params.get("base_sha") or _sha()),
                author_id=_user_id(db, req.params.get("author")))
        mr = merge_requests.get_merge_request(req.app.store, mr_id)
        return web.Response(201, merge_request_json(req, project, mr, detail=True))

    @route("POST", "/merge_requests/:merge_request_iid/merge", Family.ADMIN, prefix=PREFIX)
    def merge_mr(req: web.Request) -> web.Response:
        project = _project(req)
        mr = merge_requests.find_merge_request(req.app.store, project["id"],
                                               path_int(req, "merge_request_iid"))
        if mr is None:
            raise record_not_found()
        squash = bool(req.params.get("squash"))
        made = str(req.params.get("merge_commit_sha") or _sha())
        with req.app.store.tx() as db:
            merge_requests.merge_merge_request(
                db, mr["id"], merge_commit_sha=None if squash else made,
                squash_commit_sha=made if squash else None,
                merged_by_id=_user_id(db, req.params.get("user")))
        mr = merge_requests.get_merge_request(req.app.store, mr["id"])
        return web.Response(200, merge_request_json(req, project, mr, detail=True))


# --- pipelines and jobs ---------------------------------------------------------------------


def _create_pipeline(req: web.Request) -> dict[str, Any]:
    """Insert a pipeline, its jobs and their job tokens; answer ids and tokens."""
    project = _project(req)
    p = req.params
    status = _vocabulary(p.get("status", "running"), STATUSES, "status")
    source = _vocabulary(p.get("source", "push"), SOURCES, "source")
    jobs = p.get("jobs") or []
    if not isinstance(jobs, list) or not all(isinstance(j, dict) and j.get("name")
                                             for j in jobs):
        raise web.grape_error("jobs must be a list of objects with a name")
    ref = str(p.get("ref") or project["default_branch"])
    with req.app.store.tx() as db:
        user_id = _user_id(db, p.get("user"))
        pipeline_id, iid = insert_pipeline(
            db, project["id"], pipeline_id=_free_id(db, "pipelines", p.get("id")),
            sha=str(p.get("sha") or _sha()), ref=ref, tag=bool(p.get("tag")), status=status,
            source=source, user_id=user_id, name=p.get("name"))
        created = [_create_job(db, project["id"], pipeline_id, ref, user_id, job)
                   for job in jobs]
    return {"pipeline_id": pipeline_id, "iid": iid, "jobs": created}


def _create_job(db: sqlite3.Connection, project_id: int, pipeline_id: int, ref: str,
                user_id: int, job: dict[str, Any]) -> dict[str, Any]:
    status = _vocabulary(job.get("status", "created"), STATUSES, "jobs status")
    job_id, token = ci_jobs.insert_job(
        db, project_id, pipeline_id, job_id=_free_id(db, "jobs", job.get("id")),
        name=str(job["name"]), stage=str(job.get("stage") or "test"), status=status, ref=ref,
        allow_failure=bool(job.get("allow_failure")), user_id=user_id)
    return {"id": job_id, "name": str(job["name"]), "token": token}


def _set_status(req: web.Request, table: str, param: str) -> dict[str, Any]:
    """Move a pipeline or job to `status`, stamping started/finished times as GitLab does."""
    status = _vocabulary(req.params.get("status"), STATUSES, "status")
    try:
        row_id = int(req.path_param(param))
    except ValueError:
        raise web.grape_error(f"{param} is invalid") from None
    thing = "Pipeline" if table == "pipelines" else "Job"
    try:
        ci_jobs.set_status(req.app.store, table, row_id, status)
    except NotFound:
        raise web.not_found(thing) from None
    return {"id": row_id, "status": status}


# --- parameters -----------------------------------------------------------------------------


def _project(req: web.Request) -> sqlite3.Row:
    """`project_id` (id or full path), defaulting to the seed project."""
    ref = req.params.get("project_id", req.app.info.get("project_id"))
    project = find_project(req.app.store, str(ref))
    if project is None:
        raise web.not_found("Project")
    return project


def _user_id(db: sqlite3.Connection, who: Any) -> int:
    """A seed key (`developer`, `maintainer`, ...) or a username; default the developer."""
    key = str(who or "developer")
    user_id = user_id_named(db, key)
    if user_id is None:
        raise web.grape_error(f"unknown user {key!r}")
    return user_id


def _free_id(db: sqlite3.Connection, table: str, wanted: Any) -> int | None:
    """The requested id if it is free (None lets SQLite pick the next one)."""
    if wanted is None:
        return None
    if isinstance(wanted, bool) or not isinstance(wanted, int) or wanted < 1:
        raise web.grape_error("id must be a positive integer")
    if ci_jobs.id_taken(db, table, wanted):
        raise web.grape_error(f"{table[:-1]} {wanted} already exists")
    return wanted


def _vocabulary(value: Any, allowed: tuple[str, ...], name: str) -> str:
    if value not in allowed:
        raise web.grape_error(f"{name} does not have a valid value")
    return str(value)


def _sha() -> str:
    return new_sha()
