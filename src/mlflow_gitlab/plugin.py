"""MLflow run-context provider: tag every `mlflow.start_run()` in a GitLab job.

Registered under MLflow's `mlflow.run_context_provider` entry point, so installing the
package is enough; MLflow loads it only when it creates a run.
"""

from __future__ import annotations

import os

from mlflow.tracking.context.abstract_context import RunContextProvider

from mlflow_gitlab.context import collect_context
from mlflow_gitlab.context.gitlab_ci import is_gitlab_ci
from mlflow_gitlab.redaction import Redactor
from mlflow_gitlab.tags import tags_for


class GitLabRunContextProvider(RunContextProvider):
    """Adds the GitLab CI tags (job, pipeline, MR, commit, user) inside a GitLab job."""

    def in_context(self) -> bool:
        return is_gitlab_ci(os.environ)

    def tags(self) -> dict[str, str]:
        return tags_for(collect_context(os.environ), Redactor.from_env(os.environ))
