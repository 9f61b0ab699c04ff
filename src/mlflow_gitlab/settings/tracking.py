"""Where the MLflow tracking server is, and the token for it.

Read from the environment (MLflow's own `MLFLOW_*` variables as they are, the job's `CI_*`)
with CLI flags taking precedence; errors name the variable to set. Every token read is
registered with the redactor and checked before anything is sent.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from mlflow_gitlab import env as variables
from mlflow_gitlab import redaction
from mlflow_gitlab.errors import ConfigError
from mlflow_gitlab.redaction import strip_url_credentials
from mlflow_gitlab.settings.tokens import read_token, register_url_password
from mlflow_gitlab.settings.urls import check_url

GITLAB_HINT = "set MLFLOW_GITLAB_URL=https://gitlab.example.com"
_TRACKING_HINT = ("set MLFLOW_TRACKING_URI to an http(s) URL, e.g. "
                  "https://gitlab.example.com/api/v4/projects/<id>/ml/mlflow")
GITLAB_TRACKING = re.compile(r"\A(?P<api>https?://.+/api/v4)/projects/(?P<project>[^/]+)"
                              r"/ml/mlflow/?\Z")


def gitlab_api_of(tracking_uri: str | None) -> str | None:
    """The GitLab API URL of a GitLab MLflow tracking URI (`<api>/projects/<id>/ml/mlflow`)."""
    match = GITLAB_TRACKING.match(tracking_uri or "")
    return match["api"] if match else None


_PROJECT_API = re.compile(r"\Ahttps?://.+/api/v4/projects/[^/]+")  # without /ml/mlflow


@dataclass(frozen=True)
class TrackingSettings:
    """How to reach the MLflow tracking server.

    `gitlab_api_url` and `project` are set when the tracking server is a GitLab project's
    MLflow endpoint (or the sandbox's); they are None for a plain MLflow server. The helper's
    own calls to it retry under `retry_attempts` and `retry_seconds`.
    """

    tracking_uri: str
    token: str | None = field(repr=False)
    gitlab_api_url: str | None
    project: str | None
    retry_attempts: int = 6
    retry_seconds: float = 300.0

    def __post_init__(self) -> None:
        redaction.register(self.token)
        register_url_password(self.tracking_uri)

    @property
    def is_gitlab(self) -> bool:
        return self.gitlab_api_url is not None

    @property
    def shown_uri(self) -> str:
        """The tracking URI fit for a message: without any credentials in it."""
        return strip_url_credentials(self.tracking_uri)


def tracking_settings(env: Mapping[str, str] | None = None,
                      tracking_uri: str | None = None) -> TrackingSettings:
    """Resolve the tracking server.

    In a GitLab job with no `MLFLOW_TRACKING_URI`, the project's own MLflow endpoint
    (`$CI_API_V4_URL/projects/$CI_PROJECT_ID/ml/mlflow`) is the default.

    Raises:
        ConfigError: nothing says where to track, it is not an http(s) server, or the
            token cannot work there.
    """
    env = os.environ if env is None else env
    uri = tracking_uri or variables.TRACKING_URI.read(env)
    if uri:
        check_url(uri, "tracking URI", http_only=False, hint=_TRACKING_HINT)
    else:
        uri = _default_gitlab_uri(env)
    if not uri:
        raise ConfigError(
            f"MLFLOW_TRACKING_URI is not set and {_why_no_default(env)}",
            hint="set MLFLOW_TRACKING_URI, e.g. <gitlab>/api/v4/projects/<id>/ml/mlflow")
    if not re.match(r"\Ahttps?://", uri, re.IGNORECASE):
        raise ConfigError(f"MLFLOW_TRACKING_URI {strip_url_credentials(uri)!r} is not an "
                          "http(s) tracking server",
                          hint="point it at GitLab's MLflow endpoint "
                               "(.../api/v4/projects/<id>/ml/mlflow) or an `mlflow server`")
    register_url_password(uri)
    token = read_token(env, variables.TRACKING_TOKEN.name)
    retry = {"retry_attempts": variables.RETRY_ATTEMPTS.read(env),
             "retry_seconds": float(variables.RETRY_SECONDS.read(env))}
    match = GITLAB_TRACKING.match(uri)
    if match is None:
        project_api = _PROJECT_API.match(uri)
        if project_api:  # GitLab would answer 404, as for a project that does not exist
            raise ConfigError(
                f"{strip_url_credentials(uri)} is not GitLab's MLflow endpoint: its path must "
                "end in /ml/mlflow",
                hint=f"set MLFLOW_TRACKING_URI={strip_url_credentials(project_api[0])}/ml/mlflow")
        return TrackingSettings(uri, token, None, None, **retry)
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
    return TrackingSettings(uri, token, match["api"], match["project"], **retry)


def _default_gitlab_uri(env: Mapping[str, str]) -> str | None:
    api, project = env.get("CI_API_V4_URL"), env.get("CI_PROJECT_ID")
    if env.get("GITLAB_CI") == "true" and api and project:
        check_url(api, "GitLab URL", source="CI_API_V4_URL", hint=GITLAB_HINT)
        return f"{api.rstrip('/')}/projects/{project}/ml/mlflow"
    return None


def _why_no_default(env: Mapping[str, str]) -> str:
    """Why a job's own MLflow endpoint cannot be the default, for the error."""
    if env.get("GITLAB_CI") != "true":
        return "this is not a GitLab CI job"
    missing = [name for name in ("CI_API_V4_URL", "CI_PROJECT_ID") if not env.get(name)]
    return f"this GitLab CI job has no {' or '.join(missing)} to find the project's endpoint"
