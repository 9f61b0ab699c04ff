"""A commit's merge requests: `GET /projects/:id/repository/commits/:sha/merge_requests`.

After `lib/api/commits.rb` and its request spec: the caller needs `read_merge_request`
(a Guest of a private project gets 403, a non-member 404 `Project Not Found`), job tokens
are allowed; an unknown commit is 404 `{"message":"404 Commit Not Found"}`. The MRs are
`MergeRequestsFinder`'s with `commit_sha` (`by_related_commit_sha`: the MR's own commits,
its merge commit or its squash commit), newest first (`id DESC`, the finder's default),
optionally filtered by `state`, offset-paginated, each a `MergeRequestBasic`. The sandbox
has no repository: it knows the commits its pipelines and MRs name, and an MR's commits
are its head only.
"""

from __future__ import annotations

from mlflow_gitlab.sandbox import web
from mlflow_gitlab.sandbox.auth import Family
from mlflow_gitlab.sandbox.backend.projects import REPORTER
from mlflow_gitlab.sandbox.backend.store import Store
from mlflow_gitlab.sandbox.router import Router

from .merge_requests import merge_request_json
from .rest_common import paginated_json, require_role

STATES = ("opened", "closed", "locked", "merged")  # any other `state` filters nothing


def register(router: Router) -> None:
    """Register the commit routes the sandbox implements."""

    @router.route("GET", "/projects/:id/repository/commits/:sha/merge_requests",
                  Family.REST_JOB_READ)
    def commit_merge_requests(req: web.Request) -> web.Response:
        require_role(req, REPORTER)
        sha = resolve_commit(req.app.store, req.project["id"], req.path_param("sha"))
        if sha is None:
            raise web.message_error(404, "404 Commit Not Found")
        state = req.params.get("state")
        where = "" if state not in STATES else " AND m.state = ?"
        rows = req.app.store.all(
            "SELECT m.* FROM merge_requests m LEFT JOIN merge_request_merges x "
            "ON x.merge_request_id = m.id WHERE m.project_id = ? AND (m.sha = ? "
            f"OR x.merge_commit_sha = ? OR x.squash_commit_sha = ?){where} ORDER BY m.id DESC",
            req.project["id"], sha, sha, sha, *([state] if where else []))
        return paginated_json(req, rows, lambda r: merge_request_json(req, req.project, r))


def resolve_commit(store: Store, project_id: int, ref: str) -> str | None:
    """`user_project.commit(ref)`: the full SHA a SHA (or a unique prefix of 7 or more hex
    digits) or a branch name stands for, among the commits the sandbox knows; else None."""
    known = _known_shas(store, project_id)
    ref_lower = ref.lower()
    if len(ref) >= 7 and all(c in "0123456789abcdef" for c in ref_lower):
        matches = {sha for sha in known if sha.startswith(ref_lower)}
        if len(matches) == 1:
            return matches.pop()
    row = store.one(
        "SELECT sha FROM pipelines WHERE project_id = ? AND ref = ? AND tag = 0 "
        "ORDER BY id DESC LIMIT 1", project_id, ref)
    if row is None:
        row = store.one(
            "SELECT sha FROM merge_requests WHERE project_id = ? AND source_branch = ? "
            "AND state = 'opened' ORDER BY id DESC LIMIT 1", project_id, ref)
    return row["sha"] if row else None


def _known_shas(store: Store, project_id: int) -> set[str]:
    rows = store.all(
        "SELECT sha FROM pipelines WHERE project_id = ? UNION "
        "SELECT before_sha FROM pipelines WHERE project_id = ? UNION "
        "SELECT sha FROM merge_requests WHERE project_id = ? UNION "
        "SELECT base_sha FROM merge_requests WHERE project_id = ? UNION "
        "SELECT x.merge_commit_sha FROM merge_request_merges x JOIN merge_requests m "
        "ON m.id = x.merge_request_id WHERE m.project_id = ? UNION "
        "SELECT x.squash_commit_sha FROM merge_request_merges x JOIN merge_requests m "
        "ON m.id = x.merge_request_id WHERE m.project_id = ?", *([project_id] * 6))
    return {str(r[0]).lower() for r in rows if r[0] and set(str(r[0])) != {"0"}}
