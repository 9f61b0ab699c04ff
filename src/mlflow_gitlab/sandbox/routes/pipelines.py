"""Pipelines: list and get (`lib/api/ci/pipelines.rb`); their jobs: jobs.py.

Not readable with a job token: these routes are Family.REST, so a JOB-TOKEN is not
looked at and the caller is anonymous (404 Project Not Found on a private project).
"""

from __future__ import annotations

import sqlite3
from typing import Any

from mlflow_gitlab.sandbox import web
from mlflow_gitlab.sandbox.auth import Family
from mlflow_gitlab.sandbox.backend import pipelines
from mlflow_gitlab.sandbox.backend.pipelines import (
    ORDER_COLUMNS,
    SCOPES,
    SOURCES,
    STATUSES,
    PipelineFilter,
)
from mlflow_gitlab.sandbox.backend.projects import REPORTER
from mlflow_gitlab.sandbox.backend.store import iso8601, now
from mlflow_gitlab.sandbox.router import Router

from .rest_common import (
    Params,
    paginated_json,
    path_int,
    project_url,
    record_not_found,
    require_role,
    user_basic,
)

# The jobs `scope[]` filter accepts these statuses only.
JOB_SCOPES = ("created", "pending", "running", "failed", "success", "canceled", "skipped",
              "waiting_for_resource", "manual")

# status -> (detailed_status text, label); icon and group follow from the status.
_DETAILED = {
    "created": ("Created", "created"), "waiting_for_resource": ("Waiting", "waiting"),
    "preparing": ("Preparing", "preparing"), "pending": ("Pending", "pending"),
    "running": ("Running", "running"), "success": ("Passed", "passed"),
    "failed": ("Failed", "failed"), "canceled": ("Canceled", "canceled"),
    "canceling": ("Canceling", "canceling"), "skipped": ("Skipped", "skipped"),
    "manual": ("Manual", "manual action"), "scheduled": ("Scheduled", "delayed"),
}


def register(router: Router) -> None:
    """Register the pipeline routes."""
    route = router.route

    @route("GET", "/projects/:id/pipelines", Family.REST)
    def list_pipelines(req: web.Request) -> web.Response:
        rows = _filtered_pipelines(req)  # Grape validates the filters before the endpoint
        require_role(req, REPORTER)  # read_pipeline + read_build on the project
        return paginated_json(req, rows, lambda r: pipeline_list_item(req, req.project, r))

    @route("GET", "/projects/:id/pipelines/:pipeline_id", Family.REST)
    def get_pipeline(req: web.Request) -> web.Response:
        row = find_pipeline(req)
        require_role(req, REPORTER)  # `authorize! :read_pipeline, pipeline` after the find
        return web.Response(200, pipeline_detail(req, req.project, row))


def find_pipeline(req: web.Request) -> sqlite3.Row:
    """The path's pipeline in the request's project; missing -> 404 `404 Not found`."""
    pipeline_id = path_int(req, "pipeline_id")
    row = pipelines.find_pipeline(req.app.store, req.project["id"], pipeline_id)
    if row is None:
        raise record_not_found()  # `all_pipelines.find(id)`
    return row


# --- the list filters (Ci::PipelinesFinder) -----------------------------------------------


def _filtered_pipelines(req: web.Request) -> list[sqlite3.Row]:
    params = Params(req)
    scope = params.choice("scope", SCOPES)
    status = params.choice("status", STATUSES)
    source = params.choice("source", SOURCES)
    order_by = params.choice("order_by", ORDER_COLUMNS, "id")
    sort = params.choice("sort", ("asc", "desc"), "desc")
    bounds = {name: params.datetime(name) for name in
              ("updated_after", "updated_before", "created_after", "created_before")}
    params.check()

    return pipelines.list_pipelines(req.app.store, req.project["id"], PipelineFilter(
        scope=scope, status=status, source=source, ref=params.string("ref"),
        sha=params.string("sha"), name=params.string("name"),
        username=params.string("username"), order_by=order_by or "id", sort=sort or "desc",
        **bounds))


# --- entities -------------------------------------------------------------------------------


def pipeline_basic(req: web.Request, project: sqlite3.Row, row: sqlite3.Row) -> dict[str, Any]:
    """`PipelineBasic`: what a job's `pipeline` and an MR's `pipeline` carry."""
    return {
        "id": row["id"], "iid": row["iid"], "project_id": row["project_id"],
        "sha": row["sha"], "ref": row["ref"], "status": row["status"],
        "source": row["source"], "created_at": iso8601(row["created_at"]),
        "updated_at": iso8601(row["updated_at"]),
        "web_url": f"{project_url(req, project)}/-/pipelines/{row['id']}",
    }


def pipeline_list_item(req: web.Request, project: sqlite3.Row, row: sqlite3.Row
                       ) -> dict[str, Any]:
    """`PipelineBasicWithMetadata`: a list entry."""
    return {**pipeline_basic(req, project, row), "name": row["name"]}


def pipeline_detail(req: web.Request, project: sqlite3.Row, row: sqlite3.Row
                    ) -> dict[str, Any]:
    """`PipelineWithMetadata`: `GET .../pipelines/:id` and an MR's `head_pipeline`."""
    started, finished = row["started_at"], row["finished_at"]
    return {
        **pipeline_list_item(req, project, row),
        "before_sha": row["before_sha"],
        "tag": bool(row["tag"]),
        "yaml_errors": None,
        "user": user_basic(req, row["user_id"]),
        "started_at": iso8601(started),
        "finished_at": iso8601(finished),
        "committed_at": None,
        # Whole seconds, and null until the pipeline has finished.
        "duration": int(finished - started) if started and finished else None,
        "queued_duration": int(started - row["created_at"]) if started else None,
        "coverage": None,
        "detailed_status": detailed_status(req, project, row["status"],
                                           f"/-/pipelines/{row['id']}"),
    }


def detailed_status(req: web.Request, project: sqlite3.Row, status: str, path: str
                    ) -> dict[str, Any]:
    """A minimal `DetailedStatusEntity` for `status`."""
    text, label = _DETAILED.get(status, (status.capitalize(), status))
    return {
        "icon": f"status_{status}", "text": text, "label": label, "group": status,
        "tooltip": label, "has_details": True,
        "details_path": f"/{project['path']}{path}", "illustration": None,
        "favicon": f"/assets/ci_favicons/favicon_status_{status}.png",
    }


def elapsed(start: float | None, end: float | None) -> float | None:
    """Seconds from `start` to `end` (or to now while running); None if never started."""
    if start is None:
        return None
    return round((end if end is not None else now()) - start, 3)
