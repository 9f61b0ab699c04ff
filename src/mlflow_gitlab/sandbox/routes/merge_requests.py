"""Merge requests: list and get (`lib/api/merge_requests.rb`).

Both read routes accept the job token (Family.REST_JOB_READ). The MR entity is the
`MergeRequest` one trimmed to what clients read; the sandbox has no repository, so merge
status is always clean.
"""

from __future__ import annotations

import dataclasses
import sqlite3
from typing import Any

from mlflow_gitlab.sandbox import web
from mlflow_gitlab.sandbox.auth import Family
from mlflow_gitlab.sandbox.backend import merge_requests
from mlflow_gitlab.sandbox.backend.merge_requests import ORDER_BY, STATES, MergeRequestFilter
from mlflow_gitlab.sandbox.backend.projects import DEVELOPER, access_level
from mlflow_gitlab.sandbox.backend.store import iso8601
from mlflow_gitlab.sandbox.router import Router

from .pipelines import pipeline_basic, pipeline_detail
from .rest_common import (
    Params,
    paginated_json,
    path_int,
    project_url,
    record_not_found,
    user_basic,
)


def register(router: Router) -> None:
    """Register the merge request routes."""
    route = router.route

    @route("GET", "/projects/:id/merge_requests", Family.REST_JOB_READ)
    def list_merge_requests(req: web.Request) -> web.Response:
        rows = _filtered(req)
        return paginated_json(req, rows, lambda r: merge_request_json(req, req.project, r))

    @route("GET", "/projects/:id/merge_requests/:merge_request_iid", Family.REST_JOB_READ)
    def get_merge_request(req: web.Request) -> web.Response:
        mr = find_merge_request(req, "merge_request_iid")
        return web.Response(200, merge_request_json(req, req.project, mr, detail=True))


def find_merge_request(req: web.Request, param: str) -> sqlite3.Row:
    """The MR named by the iid path parameter `param` (the notes routes call it
    `noteable_id`); a non-integer -> 400 `<param> is invalid`, a missing MR -> 404.

    GitLab finds it with `merge_requests.find_by!(iid:)`, so the 404 is the RecordNotFound
    one, `{"message":"404 Not found"}`.
    """
    row = merge_requests.find_merge_request(req.app.store, req.project["id"],
                                            path_int(req, param))
    if row is None:
        raise record_not_found()
    return row


def _filtered(req: web.Request) -> list[sqlite3.Row]:
    """MergeRequestsFinder: `state`, branch, label, author and iid filters, then the order."""
    params = Params(req)
    where = MergeRequestFilter(
        state=params.choice("state", STATES, "all"),
        order_by=params.choice("order_by", ORDER_BY, "created_at"),
        sort=params.choice("sort", ("asc", "desc"), "desc"),
        source_branch=params.string("source_branch"),
        target_branch=params.string("target_branch"),
        author_username=params.string("author_username"),
        labels=params.string("labels"))
    params.check()
    where = dataclasses.replace(where, iids=_iids(req))
    return merge_requests.list_merge_requests(req.app.store, req.project["id"], where)


def _iids(req: web.Request) -> list[int] | None:
    """The `iids[]` filter (Array[Integer]) -> `iids is invalid` for a non-integer."""
    value = req.params.get("iids")
    if value is None:
        return None
    try:
        return [int(v) for v in (value if isinstance(value, list) else [value])]
    except (TypeError, ValueError):
        raise web.grape_error("iids is invalid") from None


# --- the entity -------------------------------------------------------------------------------


def merge_request_json(req: web.Request, project: sqlite3.Row, mr: sqlite3.Row, *,
                       detail: bool = False) -> dict[str, Any]:
    """`MergeRequestBasic` (lists) or, with `detail`, `MergeRequest` (single GET)."""
    reference = f"!{mr['iid']}"
    state = mr["state"]
    merge = merge_requests.merge_of(req.app.store, mr)
    merged_by = user_basic(req, merge["merged_by_id"]) if merge else None
    draft = bool(mr["draft"])
    body: dict[str, Any] = {
        "id": mr["id"], "iid": mr["iid"], "project_id": mr["project_id"],
        "title": mr["title"], "description": mr["description"], "state": state,
        "created_at": iso8601(mr["created_at"]), "updated_at": iso8601(mr["updated_at"]),
        "merged_by": merged_by, "merge_user": merged_by,
        "merged_at": iso8601(merge["merged_at"]) if merge else None,
        "closed_by": None, "closed_at": None,
        "target_branch": mr["target_branch"], "source_branch": mr["source_branch"],
        "user_notes_count": merge_requests.user_notes_count(req.app.store, mr),
        "upvotes": 0, "downvotes": 0,
        "author": user_basic(req, mr["author_id"]),
        "assignees": [], "assignee": None, "reviewers": [],
        "source_project_id": mr["source_project_id"],
        "target_project_id": mr["target_project_id"],
        "labels": merge_requests.labels_of(mr),
        "draft": draft, "work_in_progress": draft, "imported": False, "imported_from": "none",
        "milestone": None, "merge_when_pipeline_succeeds": False,
        "merge_status": "can_be_merged",
        "detailed_merge_status": _detailed_merge_status(state, draft),
        "sha": mr["sha"], "merge_commit_sha": merge["merge_commit_sha"] if merge else None,
        "squash_commit_sha": merge["squash_commit_sha"] if merge else None,
        "discussion_locked": None, "should_remove_source_branch": None,
        "force_remove_source_branch": None, "prepared_at": iso8601(mr["created_at"]),
        "reference": reference,
        "references": {"short": reference, "relative": reference,
                       "full": f"{project['path']}{reference}"},
        "web_url": f"{project_url(req, project)}/-/merge_requests/{mr['iid']}",
        "time_stats": {"time_estimate": 0, "total_time_spent": 0,
                       "human_time_estimate": None, "human_total_time_spent": None},
        "squash": False, "squash_on_merge": False,
        "task_completion_status": {"count": 0, "completed_count": 0},
        "has_conflicts": False, "blocking_discussions_resolved": True,
    }
    if detail:
        body.update(_detail_fields(req, project, mr))
    return body


def _detail_fields(req: web.Request, project: sqlite3.Row, mr: sqlite3.Row) -> dict[str, Any]:
    """What only the single-MR GET adds: pipelines, diff_refs, the caller's rights."""
    head = merge_requests.head_pipeline(req.app.store, mr)
    can_merge = access_level(req.app.store, project, req.principal) >= DEVELOPER
    return {
        "subscribed": False, "changes_count": "1",
        "latest_build_started_at": iso8601(head["started_at"]) if head else None,
        "latest_build_finished_at": iso8601(head["finished_at"]) if head else None,
        "first_deployed_to_production_at": None,
        "pipeline": pipeline_basic(req, project, head) if head else None,
        "head_pipeline": pipeline_detail(req, project, head) if head else None,
        "diff_refs": {"base_sha": mr["base_sha"], "head_sha": mr["sha"],
                      "start_sha": mr["start_sha"]},
        "merge_error": None, "first_contribution": False, "user": {"can_merge": can_merge},
    }


def _detailed_merge_status(state: str, draft: bool) -> str:
    if state != "opened":
        return "not_open"
    return "draft_status" if draft else "mergeable"
