"""The current user: `GET /user`, which tells a client whose token it holds.

GitLab answers the token's user (`lib/api/users.rb`, `resource :user`); a job token is not
accepted , so the job-token header is ignored and the caller
is anonymous -> 401. A `read_user` token may GET it too (`allow_access_with_scope
:read_user, if: request.get? || request.head?` in `lib/api/users.rb`), unlike the other
routes the sandbox has.
"""

from __future__ import annotations

from mlflow_gitlab.sandbox import web
from mlflow_gitlab.sandbox.auth import Family
from mlflow_gitlab.sandbox.router import Router

from .rest_common import user_full


def register(router: Router) -> None:
    """Register the current-user route."""

    @router.route("GET", "/user", Family.CURRENT_USER)
    def current_user(req: web.Request) -> web.Response:
        if req.principal is None:
            raise web.unauthorized()
        user = user_full(req, req.principal.user_id)
        return web.Response(200, {**user, "created_at": None, "is_admin": False})
