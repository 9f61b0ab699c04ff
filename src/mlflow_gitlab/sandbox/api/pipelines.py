"""Pipelines: list and get (`lib/api/ci/pipelines.rb`); their jobs: jobs.py.

Not readable with a job token: these routes are Family.REST, so a JOB-TOKEN is not
looked at and the caller is anonymous (404 Project Not Found on a private project).
"""

from __future__ import annotations

import sqlite3
from typing import Any

from mlflow_gitlab.sandbox import web
from mlflow_gitlab.sandbox.app import Router
from mlflow_gitlab.sandbox.auth import Family
from mlflow_gitlab.sandbox.backend.projects import REPORTER
from mlflow_gitlab.sandbox.backend.store import iso8601, now

from .rest_common import (
    Params,
    paginated_json,
    path_int,
    project_url,
    record_not_found,
    require_role,
    user_basic,
)

# Pipeline and job `status`; `canceling` is newer (unverified) but accepted.
STATUSES = ("created", "waiting_for_resource", "preparing", "pending", "running", "success",
            "failed", "canceled", "canceling", "skipped", "manual", "scheduled")
FINISHED = ("success", "failed", "canceled", "skipped")
# `source` = the CI_PIPELINE_SOURCE vocabulary.
SOURCES = ("push", "merge_request_event", "schedule", "web", "api", "trigger", "pipeline",
           "parent_pipeline", "chat", "external", "external_pull_request_event", "webide",
           "ondemand_dast_scan", "ondemand_dast_validation", "security_orchestration_policy")
SCOPES = ("running", "pending", "finished", "branches", "tags")
ORDER_COLUMNS = ("id", "status", "ref", "updated_at", "user_id")  # ALLOWED_INDEXED_COLUMNS
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
    row = req.app.store.one("SELECT * FROM pipelines WHERE id = ? AND project_id = ?",
                            pipeline_id, req.project["id"])
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

    where, args = ["p.project_id = ?"], [req.project["id"]]
    for column, value in (("p.status", status), ("p.ref", params.string("ref")),
                          ("p.sha", params.string("sha")), ("p.name", params.string("name")),
                          ("u.username", params.string("username"))):
        if value is not None:
            where.append(f"{column} = ?")
            args.append(value)
    # Child pipelines are listed only when asked for by source.
    where.append("p.source = ?" if source else "p.source != 'parent_pipeline'")
    if source:
        args.append(source)
    for name, op in (("updated_after", ">"), ("updated_before", "<"),
                     ("created_after", ">"), ("created_before", "<")):
        if bounds[name] is not None:
            where.append(f"p.{name.split('_')[0]}_at {op} ?")
            args.append(bounds[name])
    where.append(_scope_condition(scope, children=source == "parent_pipeline"))
    sql = (f"SELECT p.* FROM pipelines p LEFT JOIN users u ON u.id = p.user_id "
           f"WHERE {' AND '.join(where)} ORDER BY p.{order_by} {sort}, p.id {sort}")
    return req.app.store.all(sql, *args)


def _scope_condition(scope: str | None, *, children: bool) -> str:
    """`running`/`pending` by status, `finished` by the finished statuses, `branches`/`tags`
    the latest listed pipeline of each branch or tag (an MR's `refs/merge-requests/...` is
    neither; child pipelines count only when they are listed)."""
    if scope in ("running", "pending"):
        return f"p.status = '{scope}'"
    if scope == "finished":
        return "p.status IN (" + ", ".join(f"'{s}'" for s in FINISHED) + ")"
    if scope in ("branches", "tags"):
        tag = int(scope == "tags")
        same_kind = "1 = 1" if children else "q.source != 'parent_pipeline'"
        return (f"p.tag = {tag} AND p.ref NOT LIKE 'refs/%' AND p.id = (SELECT MAX(q.id) "
                f"FROM pipelines q WHERE q.project_id = p.project_id AND q.ref = p.ref "
                f"AND q.tag = {tag} AND {same_kind})")
    return "1 = 1"


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
