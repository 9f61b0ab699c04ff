"""The sandbox's endpoints, one module per GitLab API family."""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mlflow_gitlab.sandbox.router import Router

MODULES = (
    "admin",
    "mlflow_experiments",
    "mlflow_runs",
    "mlflow_run_data",
    "mlflow_models",
    "mlflow_model_versions",
    "mlflow_artifacts",
    "ml_model_files",
    "generic_packages",
    "packages",
    "pypi_packages",
    "projects",
    "merge_requests",
    "commits",
    "pipelines",
    "jobs",
    "notes",
    "users",
    "admin_ci",
    "git_http",
)


def register_all(router: Router) -> None:
    """Register every endpoint module's routes on `router`."""
    for name in MODULES:
        import_module(f"mlflow_gitlab.sandbox.routes.{name}").register(router)
