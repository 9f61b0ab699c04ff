"""Routing and dispatch: raw path -> route -> auth -> project -> endpoint -> response."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mlflow_gitlab.sandbox import auth, web
from mlflow_gitlab.sandbox.auth import Family
from mlflow_gitlab.sandbox.backend.errors import BackendError
from mlflow_gitlab.sandbox.backend.store import Store
from mlflow_gitlab.sandbox.faults import FaultInjector
from mlflow_gitlab.sandbox.rate_limits import RateLimiter
from mlflow_gitlab.sandbox.router import API_PREFIX, Route, Router


@dataclass
class Settings:
    """Instance settings an admin would change on GitLab."""

    generic_max_file_size: int = 5 * 1024**3  # 0 = unlimited
    # Workhorse's status for a `Content-Length` over the limit: 413 now, 500 on older GitLab.
    workhorse_length_status: int = 413
    # The group's "Allow duplicates" for generic packages; off: a file name stored twice is 400.
    generic_duplicates: bool = True
    ml_model_max_file_size: int = 10 * 1024**3
    pypi_max_file_size: int = 3 * 1024**3  # GitLab's default plan limit
    notes_max_length: int = 1_000_000
    notes_create_limit: int = 300  # notes per user and minute; 0 = unlimited (rate_limits.py)
    # e2e only (docs/sandbox.md): a run naming an unknown `gitlab.CI_JOB_ID` registers the job
    # instead of failing with GitLab's 500, for runners that pick their own job ids.
    register_unknown_jobs: bool = False


@dataclass
class App:
    """Everything a request needs: state, routes, faults and settings."""

    store: Store
    router: Router
    settings: Settings = field(default_factory=Settings)
    faults: FaultInjector = field(default_factory=FaultInjector)
    base_url: str = ""
    info: dict[str, Any] = field(default_factory=dict)
    admin_token: str = field(default="", repr=False)  # of the `/-/sandbox/` control routes
    notes_limiter: RateLimiter | None = None  # made from `settings` on first use

    def note_limiter(self) -> RateLimiter:
        """The `notes_create` limit of this sandbox's settings."""
        if self.notes_limiter is None:
            self.notes_limiter = RateLimiter(self.settings.notes_create_limit)
        return self.notes_limiter

    def dispatch(self, request: web.Request) -> web.Response:
        """Answer one request; never raises for an `ApiError`."""
        try:
            return self._dispatch(request)
        except web.ApiError as exc:
            return exc.response

    def _dispatch(self, request: web.Request) -> web.Response:
        route, params, path_known = self.router.match(request.method, request.raw_path)
        if route is None:
            # GitLab's API ends in a catch-all `route :any, '*path'` (404, `lib/api/api.rb`);
            # Grape's router tries it before a known path's 405, so a wrong method is a 404
            # there. The sandbox's own routes outside /api/v4 answer 405.
            if path_known and not request.raw_path.startswith(API_PREFIX + "/"):
                raise web.ApiError(405, {"error": "405 Not Allowed"})
            raise web.route_not_found()
        request.path_params = params
        try:
            return self._answer(route, request)
        except BackendError as exc:
            raise web.backend_error(exc, mlflow=route.family is Family.MLFLOW) from None

    def _answer(self, route: Route, request: web.Request) -> web.Response:
        params = request.path_params
        if route.family is Family.ADMIN:
            auth.check_admin(self.admin_token, request.headers)
            return route.handler(request)
        if route.family in (Family.PYPI, Family.GIT_HTTP, Family.WEB):
            return route.handler(request)  # Basic auth or none, resolved by the route
        request.principal = auth.authenticate(
            self.store, route.family, request.method, request.headers, request.query)
        if "id" in params and route.template.startswith(API_PREFIX + "/projects/:id"):
            request.project = auth.resolve_project(
                self.store, params["id"], request.principal, request.method, route.family)
        elif route.family is Family.MLFLOW and request.principal is None:
            raise web.unauthorized()
        return route.handler(request)


def build_app(store: Store, settings: Settings | None = None) -> App:
    """An App with every endpoint module registered."""
    from mlflow_gitlab.sandbox import pages
    from mlflow_gitlab.sandbox.routes import register_all

    router = Router()
    register_all(router)
    pages.register(router)
    return App(store=store, router=router, settings=settings or Settings())
