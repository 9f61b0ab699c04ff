"""A local server that speaks the part of GitLab's REST API mlflow-gitlab uses.

It is the embedded default for trying the tool without a GitLab, and the real HTTP backend
of the test suite. See `docs/sandbox.md`.
"""

from mlflow_gitlab.sandbox.app import Settings
from mlflow_gitlab.sandbox.server import Sandbox, running_sandbox, start

__all__ = ["Sandbox", "Settings", "running_sandbox", "start"]
