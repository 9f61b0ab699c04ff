"""MLflow run-context provider: tag every `mlflow.start_run()` in a GitLab job.

Registered under MLflow's `mlflow.run_context_provider` entry point, so installing the
package is enough; MLflow loads it only when it creates a run.
"""

from __future__ import annotations

import os

import mlflow
from mlflow.tracking.context.abstract_context import RunContextProvider

from mlflow_gitlab.context import collect_context
from mlflow_gitlab.context.gitlab_ci import is_gitlab_ci
from mlflow_gitlab.redaction import Redactor
from mlflow_gitlab.settings import gitlab_api_of
from mlflow_gitlab.tags import tags_for
from mlflow_gitlab.tracking.job_link import linkable


class GitLabRunContextProvider(RunContextProvider):
    """Adds the GitLab CI tags (job, pipeline, MR, commit, user) inside a GitLab job."""

    def in_context(self) -> bool:
        return is_gitlab_ci(os.environ)

    def tags(self) -> dict[str, str]:
        """The CI tags; the job link only where the tracking server is the job's GitLab."""
        context = collect_context(os.environ)
        return linkable(tags_for(context, Redactor.from_env(os.environ)), context,
                        gitlab_api_of(mlflow.get_tracking_uri()), quiet=True)
