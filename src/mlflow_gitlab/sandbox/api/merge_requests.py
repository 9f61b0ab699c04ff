"""Merge requests: list and get (`lib/api/merge_requests.rb`).

Both read routes accept the job token (Family.REST_JOB_READ). The MR entity is the
`MergeRequest` one trimmed to what clients read; the sandbox has no repository, so merge
status is always clean. `create_merge_request` backs the admin route of admin_ci.py.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from mlflow_gitlab.sandbox import web
from mlflow_gitlab.sandbox.auth import Family
from mlflow_gitlab.sandbox.backend.projects import DEVELOPER, access_level
from mlflow_gitlab.sandbox.backend.store import iso8601, next_iid, now
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

STATES = ("opened", "closed", "locked", "merged", "all")
ORDER_BY = ("created_at", "updated_at", "title")


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
    iid = path_int(req, param)
    row = req.app.store.one("SELECT * FROM merge_requests WHERE project_id = ? AND iid = ?",
                            req.project["id"], iid)
    if row is None:
        raise record_not_found()
    return row


def _filtered(req: web.Request) -> list[sqlite3.Row]:
    """MergeRequestsFinder: `state`, branch, label, author and iid filters, then the order."""
    params = Params(req)
    state = params.choice("state", STATES, "all")
    order_by = params.choice("order_by", ORDER_BY, "created_at")
    sort = params.choice("sort", ("asc", "desc"), "desc")
    params.check()
    where, args = ["m.project_id = ?"], [req.project["id"]]
    if state != "all":
        where.append("m.state = ?")
        args.append(state)
    for column, name in (("m.source_branch", "source_branch"),
                         ("m.target_branch", "target_branch"),
                         ("u.username", "author_username")):
        if params.string(name) is not None:
            where.append(f"{column} = ?")
            args.append(params.string(name))
    iids = _iids(req)
    if iids is not None:
        where.append(f"m.iid IN ({', '.join('?' * len(iids))})")
        args.extend(iids)
    rows = req.app.store.all(
        "SELECT m.* FROM merge_requests m LEFT JOIN users u ON u.id = m.author_id "
        f"WHERE {' AND '.join(where)} ORDER BY m.{order_by} {sort}, m.id {sort}", *args)
    return [r for r in rows if _has_labels(r, params.string("labels"))]


def _iids(req: web.Request) -> list[int] | None:
    """The `iids[]` filter (Array[Integer]) -> `iids is invalid` for a non-integer."""
    value = req.params.get("iids")
    if value is None:
        return None
    try:
        return [int(v) for v in (value if isinstance(value, list) else [value])]
    except (TypeError, ValueError):
        raise web.grape_error("iids is invalid") from None


def _has_labels(mr: sqlite3.Row, wanted: str | None) -> bool:
    """The `labels` filter: all of a comma list, or `None` / `Any` (case-insensitive)."""
    if wanted is None or wanted == "":
        return True
    labels = json.loads(mr["labels"])
    if wanted.lower() == "none":
        return not labels
    if wanted.lower() == "any":
        return bool(labels)
    return all(label.strip() in labels for label in wanted.split(","))


# --- the entity -------------------------------------------------------------------------------


def merge_request_json(req: web.Request, project: sqlite3.Row, mr: sqlite3.Row, *,
                       detail: bool = False) -> dict[str, Any]:
    """`MergeRequestBasic` (lists) or, with `detail`, `MergeRequest` (single GET)."""
    reference = f"!{mr['iid']}"
    state = mr["state"]
    merge = req.app.store.one("SELECT * FROM merge_request_merges WHERE merge_request_id = ?",
                              mr["id"])
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
        "user_notes_count": _user_notes_count(req, mr), "upvotes": 0, "downvotes": 0,
        "author": user_basic(req, mr["author_id"]),
        "assignees": [], "assignee": None, "reviewers": [],
        "source_project_id": mr["source_project_id"],
        "target_project_id": mr["target_project_id"],
        "labels": json.loads(mr["labels"]),
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
    head = _head_pipeline(req, mr)
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


def _user_notes_count(req: web.Request, mr: sqlite3.Row) -> int:
    row = req.app.store.one(
        "SELECT COUNT(*) AS n FROM notes WHERE noteable_type = 'MergeRequest' "
        "AND noteable_id = ? AND system = 0", mr["id"])
    return int(row["n"])


def _head_pipeline(req: web.Request, mr: sqlite3.Row) -> sqlite3.Row | None:
    """The newest pipeline for the MR's head commit, on its branch or its MR ref."""
    return req.app.store.one(
        "SELECT * FROM pipelines WHERE project_id = ? AND sha = ? AND ref IN (?, ?) "
        "ORDER BY id DESC LIMIT 1",
        mr["source_project_id"], mr["sha"], mr["source_branch"],
        f"refs/merge-requests/{mr['iid']}/head")


# --- creation (the sandbox's admin route) ---------------------------------------------------


def create_merge_request(db: sqlite3.Connection, project_id: int, *, title: str,
                         source_branch: str, target_branch: str, labels: list[str],
                         description: str, sha: str, base_sha: str, author_id: int | None
                         ) -> int:
    """Insert an opened MR with the next per-project iid; returns its row id."""
    iid = next_iid(db, "merge_requests", project_id)
    t = now()
    cur = db.execute(
        "INSERT INTO merge_requests (project_id, iid, title, description, state, source_branch, "
        "target_branch, source_project_id, target_project_id, labels, sha, base_sha, start_sha, "
        "author_id, created_at, updated_at) VALUES (?, ?, ?, ?, 'opened', ?, ?, ?, ?, ?, ?, ?, "
        "?, ?, ?, ?)",
        (project_id, iid, title, description, source_branch, target_branch, project_id,
         project_id, json.dumps(labels), sha, base_sha, base_sha, author_id, t, t))
    return int(cur.lastrowid)


def merge_merge_request(db: sqlite3.Connection, mr_id: int, *, merge_commit_sha: str | None,
                        squash_commit_sha: str | None, merged_by_id: int | None) -> None:
    """Mark an MR merged, as accepting it does: state, merge (or squash) commit, who, when."""
    t = now()
    db.execute("UPDATE merge_requests SET state = 'merged', updated_at = ? WHERE id = ?",
               (t, mr_id))
    db.execute("INSERT OR REPLACE INTO merge_request_merges VALUES (?, ?, ?, ?, ?)",
               (mr_id, merge_commit_sha, squash_commit_sha, merged_by_id, t))
