"""A commit's merge requests: `GET /projects/:id/repository/commits/:sha/merge_requests`.

After `lib/api/commits.rb` and its request spec: the caller needs `read_merge_request`
(a Guest of a private project gets 403, a non-member 404 `Project Not Found`), job tokens
are allowed; an unknown commit is 404 `{"message":"404 Commit Not Found"}`. The MRs are
`MergeRequestsFinder`'s with `commit_sha` (`by_related_commit_sha`: the MR's own commits,
its merge commit or its squash commit), newest first (`id DESC`, the finder's default),
optionally filtered by `state`, offset-paginated, each a `MergeRequestBasic`.
"""

from __future__ import annotations

from mlflow_gitlab.sandbox import web
from mlflow_gitlab.sandbox.auth import Family
from mlflow_gitlab.sandbox.backend import commits
from mlflow_gitlab.sandbox.backend.projects import REPORTER
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
        store, project_id = req.app.store, req.project["id"]
        sha = commits.resolve_commit(store, project_id, req.path_param("sha"))
        if sha is None:
            raise web.message_error(404, "404 Commit Not Found")
        state = req.params.get("state")
        rows = commits.merge_requests_of(store, project_id, sha,
                                         state if state in STATES else None)
        return paginated_json(req, rows, lambda r: merge_request_json(req, req.project, r))
