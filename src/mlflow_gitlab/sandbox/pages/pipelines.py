"""CI pages, enough to see what ran: `/-/pipelines`, `/-/pipelines/:id` and `/-/jobs/:id`.

A pipeline's page lists its jobs by stage and the runs they logged; a job's page shows its
pipeline, timings and runs. The sandbox keeps no job logs, so a job's page has none.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

from mlflow_gitlab.sandbox import web
from mlflow_gitlab.sandbox.backend.candidates import candidates_of_jobs, experiment_iids
from mlflow_gitlab.sandbox.backend.ci_links import merge_request_of, users_by_id
from mlflow_gitlab.sandbox.backend.errors import NotFound
from mlflow_gitlab.sandbox.backend.jobs import find_job, list_jobs
from mlflow_gitlab.sandbox.backend.pipelines import find_pipeline, list_pipelines
from mlflow_gitlab.sandbox.backend.records import ar_integer
from mlflow_gitlab.sandbox.backend.store import Store
from mlflow_gitlab.sandbox.pages.render import html, project_page
from mlflow_gitlab.sandbox.router import Router

Finder = Callable[[Store, int, int], sqlite3.Row | None]


def register(router: Router) -> None:
    @project_page(router, "/-/pipelines")
    def pipeline_list(request: web.Request, project: sqlite3.Row) -> web.Response:
        store = request.app.store
        rows = list_pipelines(store, project["id"])
        return html("pipelines.html", project=project, pipelines=rows,
                    users=users_by_id(store, [r["user_id"] for r in rows]),
                    merge_requests={r["id"]: merge_request_of(store, r) for r in rows})

    @project_page(router, "/-/pipelines/:pipeline_id")
    def pipeline(request: web.Request, project: sqlite3.Row) -> web.Response:
        store = request.app.store
        found = _lookup(store, project, find_pipeline, request.path_param("pipeline_id"))
        jobs = sorted(list_jobs(store, pipeline_id=found["id"]), key=lambda j: j["id"])
        return html("pipeline.html", project=project, pipeline=found, jobs=jobs,
                    stages=_stages(jobs), merge_request=merge_request_of(store, found),
                    user=users_by_id(store, [found["user_id"]]).get(found["user_id"]),
                    **_runs(store, [job["id"] for job in jobs]))

    @project_page(router, "/-/jobs/:job_id")
    def job(request: web.Request, project: sqlite3.Row) -> web.Response:
        store = request.app.store
        found = _lookup(store, project, find_job, request.path_param("job_id"))
        pipeline = find_pipeline(store, project["id"], found["pipeline_id"])
        return html("job.html", project=project, job=found, pipeline=pipeline,
                    merge_request=merge_request_of(store, pipeline),
                    user=users_by_id(store, [found["user_id"]]).get(found["user_id"]),
                    **_runs(store, [found["id"]]))


def _lookup(store: Store, project: sqlite3.Row, finder: Finder, raw_id: str) -> sqlite3.Row:
    """The project's record by the id in the path; a bad or unknown id is the 404 page."""
    number = ar_integer(raw_id)
    row = finder(store, project["id"], number) if number is not None else None
    if row is None:
        raise NotFound()
    return row


def _stages(jobs: list[sqlite3.Row]) -> list[tuple[str, list[sqlite3.Row]]]:
    """Jobs grouped by stage, stages in the order their first job was created."""
    stages: dict[str, list[sqlite3.Row]] = {}
    for job in jobs:
        stages.setdefault(job["stage"], []).append(job)
    return list(stages.items())


def _runs(store: Store, job_ids: list[int]) -> dict[str, object]:
    """The runs the jobs logged, with their experiments' iids (for the links)."""
    runs = candidates_of_jobs(store, job_ids)
    return {"runs": runs, "experiments": experiment_iids(store, runs) if runs else {}}
