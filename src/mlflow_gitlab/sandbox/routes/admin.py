"""The sandbox's own control routes under `/-/sandbox/`: info and fault injection.

They let tests and benchmarks in other processes drive the sandbox over HTTP. They are not
part of GitLab's API; like every control route they need the sandbox's admin token (app.py).
"""

from __future__ import annotations

from mlflow_gitlab.sandbox import web
from mlflow_gitlab.sandbox.auth import Family
from mlflow_gitlab.sandbox.faults import Fault
from mlflow_gitlab.sandbox.router import Router

PREFIX = "/-/sandbox"


def register(router: Router) -> None:
    """Register the control routes."""
    route = router.route

    @route("GET", "/info", Family.ADMIN, prefix=PREFIX)
    def info(req: web.Request) -> web.Response:
        return web.Response(200, req.app.info)

    @route("GET", "/faults", Family.ADMIN, prefix=PREFIX)
    def list_faults(req: web.Request) -> web.Response:
        return web.Response(200, {"pending": req.app.faults.pending(),
                                  "fired": list(req.app.faults.fired)})

    @route("POST", "/faults", Family.ADMIN, prefix=PREFIX)
    def add_fault(req: web.Request) -> web.Response:
        allowed = {"method", "path", "times", "status", "retry_after", "delay", "drop",
                   "drop_after", "processed", "body", "content_type", "location", "drip",
                   "echo", "skip"}
        unknown = set(req.params) - allowed
        if unknown:
            raise web.grape_error(f"unknown fault fields: {', '.join(sorted(unknown))}")
        try:
            fault = req.app.faults.add(Fault(**req.params))
        except (TypeError, ValueError) as exc:
            raise web.grape_error(str(exc)) from None
        return web.Response(201, fault.as_dict())

    @route("DELETE", "/faults", Family.ADMIN, prefix=PREFIX)
    def clear_faults(req: web.Request) -> web.Response:
        req.app.faults.clear()
        return web.Response(204)
