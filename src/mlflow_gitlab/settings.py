"""Where to talk to: the tracking URI, GitLab's URLs, the project and the tokens.

Read from the environment (standard `MLFLOW_*` and `CI_*` variables as they are, our own as
`MLFLOW_GITLAB_*`) with CLI flags taking precedence; errors name the variable to set.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

from mlflow_gitlab.errors import ConfigError

_GITLAB_TRACKING = re.compile(r"\A(?P<api>https?://.+/api/v4)/projects/(?P<project>[^/]+)"
                              r"/ml/mlflow/?\Z")


@dataclass(frozen=True)
class TrackingSettings:
    """How to reach the MLflow tracking server.

    `gitlab_api_url` and `project` are set when the tracking server is a GitLab project's
    MLflow endpoint (or the sandbox's); they are None for a plain MLflow server.
    """

    tracking_uri: str
    token: str | None
    gitlab_api_url: str | None
    project: str | None

    @property
    def is_gitlab(self) -> bool:
        return self.gitlab_api_url is not None


def tracking_settings(env: Mapping[str, str] | None = None,
                      tracking_uri: str | None = None) -> TrackingSettings:
    """Resolve the tracking server.

    In a GitLab job with no `MLFLOW_TRACKING_URI`, the project's own MLflow endpoint
    (`$CI_API_V4_URL/projects/$CI_PROJECT_ID/ml/mlflow`) is the default.

    Raises:
        ConfigError: nothing says where to track, or the token cannot work there.
    """
    env = os.environ if env is None else env
    uri = tracking_uri or env.get("MLFLOW_TRACKING_URI") or _default_gitlab_uri(env)
    if not uri:
        raise ConfigError(
            "MLFLOW_TRACKING_URI is not set and this is not a GitLab CI job",
            hint="set MLFLOW_TRACKING_URI, e.g. <gitlab>/api/v4/projects/<id>/ml/mlflow")
    token = env.get("MLFLOW_TRACKING_TOKEN") or None
    match = _GITLAB_TRACKING.match(uri)
    if match is None:
        return TrackingSettings(uri, token, None, None)
    if not token:
        raise ConfigError(
            "MLFLOW_TRACKING_TOKEN is not set; GitLab's MLflow API needs an access token",
            hint="store an access token with the `api` scope (Developer role) as a masked "
                 "CI/CD variable named MLFLOW_TRACKING_TOKEN")
    if token == env.get("CI_JOB_TOKEN"):
        raise ConfigError(
            "MLFLOW_TRACKING_TOKEN holds the CI job token, which GitLab's MLflow API rejects",
            hint="set MLFLOW_TRACKING_TOKEN to a project or personal access token with the "
                 "`api` scope (a masked CI/CD variable)")
    return TrackingSettings(uri, token, match["api"], match["project"])


def _default_gitlab_uri(env: Mapping[str, str]) -> str | None:
    api, project = env.get("CI_API_V4_URL"), env.get("CI_PROJECT_ID")
    if env.get("GITLAB_CI") == "true" and api and project:
        return f"{api.rstrip('/')}/projects/{project}/ml/mlflow"
    return None
