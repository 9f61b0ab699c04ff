"""TODO: endpoints of this family (see docs/sandbox.md)."""

from __future__ import annotations

from mlflow_gitlab.sandbox.app import Router


def register(router: Router) -> None:
    """Register this module's routes."""
