"""Routes: URL templates on raw paths, matched to their handlers and API families."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from mlflow_gitlab.sandbox import web
from mlflow_gitlab.sandbox.auth import Family

Handler = Callable[[web.Request], web.Response]

API_PREFIX = "/api/v4"
MLFLOW_PREFIX = "/projects/:id/ml/mlflow/api/2.0/mlflow/"
ARTIFACTS_PREFIX = "/projects/:id/ml/mlflow/api/2.0/mlflow-artifacts/"

_PARAM = re.compile(r"([:*])(\w+)")


@dataclass(frozen=True)
class Route:
    method: str
    template: str
    regex: re.Pattern[str]
    handler: Handler
    family: Family
    stream_body: bool  # the endpoint reads the body as a stream (uploads)
    catch_all: bool = False  # takes any path: another method there is no 405


def compile_template(template: str) -> re.Pattern[str]:
    """`/projects/:id/x/*path` -> a regex on the raw path; `:name` is one segment."""
    pattern, pos = "", 0
    for m in _PARAM.finditer(template):
        pattern += re.escape(template[pos:m.start()])
        kind, name = m.groups()
        pattern += f"(?P<{name}>[^/]+)" if kind == ":" else f"(?P<{name}>.+)"
        pos = m.end()
    pattern += re.escape(template[pos:])
    return re.compile(pattern + r"\Z")


class Router:
    """Routes by method and raw path; endpoint modules add to it through `route`."""

    def __init__(self) -> None:
        self.routes: list[Route] = []

    def route(self, method: str, template: str, family: Family, *,
              stream_body: bool = False, prefix: str = API_PREFIX, catch_all: bool = False
              ) -> Callable[[Handler], Handler]:
        """Decorator registering `handler` for `method` on `prefix + template`."""
        def register(handler: Handler) -> Handler:
            full = prefix + template
            self.routes.append(Route(method.upper(), full, compile_template(full), handler,
                                     family, stream_body, catch_all))
            return handler
        return register

    def mlflow(self, method: str, endpoint: str) -> Callable[[Handler], Handler]:
        """Decorator for an MLflow-compatible endpoint (`experiments/get`, ...)."""
        return self.route(method, MLFLOW_PREFIX + endpoint, Family.MLFLOW)

    def match(self, method: str, raw_path: str) -> tuple[Route | None, dict[str, str], bool]:
        """(route, path params, path_exists_with_other_method)."""
        path_known = False
        for route in self.routes:
            m = route.regex.match(raw_path)
            if m is None:
                continue
            if route.method == method or (method == "HEAD" and route.method == "GET"):
                return route, m.groupdict(), True
            path_known = path_known or not route.catch_all
        return None, {}, path_known
