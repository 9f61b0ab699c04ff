"""The sandbox's read-only web pages, at the paths GitLab serves them, one module per page family.

Pages read state through `sandbox.backend` and render Jinja2 templates; they run no SQL of
their own and fetch nothing from the network (charts are inline SVG).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mlflow_gitlab.sandbox.router import Router

MODULES = ("experiments", "experiment", "candidate", "models", "package_files", "packages",
           "merge_requests", "pipelines", "mlflow_ui", "project")  # `project` takes any path: last


def register(router: Router) -> None:
    """Register every page module's routes on `router`."""
    for name in MODULES:
        import_module(f"mlflow_gitlab.sandbox.pages.{name}").register(router)
