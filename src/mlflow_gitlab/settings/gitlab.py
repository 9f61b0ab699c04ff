"""Where GitLab's REST API is, which project, the token, and how patiently to call it."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import unquote

from mlflow_gitlab import env as variables
from mlflow_gitlab import redaction
from mlflow_gitlab.errors import ConfigError
from mlflow_gitlab.settings.tokens import read_token, register_url_password
from mlflow_gitlab.settings.tracking import GITLAB_HINT, GITLAB_TRACKING
from mlflow_gitlab.settings.urls import check_url

# Seconds one request may take, answer included (file transfers get 1 s per MiB more);
# twice GitLab's own 60 s request timeout.
REQUEST_SECONDS: int = variables.REQUEST_SECONDS.default  # type: ignore[assignment]


@dataclass(frozen=True)
class GitLabSettings:
    """How to reach one GitLab project's REST API, and how patiently.

    `token_variable` names where the token came from, so errors can say what to change;
    a CI job token (`job_token`) is sent as `JOB-TOKEN`, any other token as `PRIVATE-TOKEN`.
    """

    api_url: str
    project: str
    token: str = field(repr=False)
    token_variable: str
    retry_attempts: int = 6
    retry_seconds: float = 300.0
    request_seconds: float = float(REQUEST_SECONDS)

    def __post_init__(self) -> None:
        redaction.register(self.token)

    @property
    def job_token(self) -> bool:
        return self.token_variable == "CI_JOB_TOKEN"

    @property
    def server_url(self) -> str:
        """The instance URL (what python-gitlab wants): `api_url` without `/api/v4`."""
        return self.api_url.removesuffix("/api/v4")


def gitlab_settings(env: Mapping[str, str] | None = None, *, url: str | None = None,
                    project: str | None = None, required: bool = True
                    ) -> GitLabSettings | None:
    """Resolve GitLab's API URL, the project and the token for package and REST calls.

    URL: `url`, else MLFLOW_GITLAB_URL, CI_API_V4_URL, CI_SERVER_URL, else the GitLab part
    of a GitLab MLFLOW_TRACKING_URI. Project: `project`, else MLFLOW_GITLAB_PROJECT,
    CI_PROJECT_ID, else the tracking URI's. Token: MLFLOW_GITLAB_TOKEN, else CI_JOB_TOKEN
    (in a job: it may use generic packages and the packages API), else MLFLOW_TRACKING_TOKEN.

    Args:
        env: the environment (default: this process's).
        url: an explicit GitLab URL (instance or `.../api/v4`).
        project: an explicit project id or full path.
        required: when False, return None if nothing says where GitLab is.

    Raises:
        ConfigError: a needed value is missing or malformed; the message names the variable.
    """
    env = os.environ if env is None else env
    tracking = GITLAB_TRACKING.match(variables.TRACKING_URI.read(env) or "")
    sources = [(url, None), (variables.GITLAB_URL.read(env), variables.GITLAB_URL.name)]
    sources += [(env.get(name), name) for name in ("CI_API_V4_URL", "CI_SERVER_URL")]
    sources.append((tracking["api"] if tracking else None, variables.TRACKING_URI.name))
    base, source = next(((value, name) for value, name in sources if value), (None, None))
    if not base:
        if not required:
            return None
        raise ConfigError("no GitLab URL: MLFLOW_GITLAB_URL is not set and this is not a "
                          "GitLab CI job", hint="set MLFLOW_GITLAB_URL=https://gitlab.example.com")
    register_url_password(base)
    api_url = _api_url(base, source)
    project = (project or variables.PROJECT.read(env) or env.get("CI_PROJECT_ID")
               or (tracking["project"] if tracking else None))
    if not project:
        raise ConfigError("no GitLab project: MLFLOW_GITLAB_PROJECT is not set and this is not "
                          "a GitLab CI job", hint="set MLFLOW_GITLAB_PROJECT to the project's "
                          "id or full path (group/project)")
    for variable in (variables.TOKEN.name, "CI_JOB_TOKEN", variables.TRACKING_TOKEN.name):
        token = read_token(env, variable)
        if token:
            token_variable = variable
            break
    else:
        raise ConfigError("no GitLab token: MLFLOW_GITLAB_TOKEN is not set and this is not a "
                          "GitLab CI job", hint="set MLFLOW_GITLAB_TOKEN to an access token with "
                          "the `api` scope (Developer role), as a masked CI/CD variable")
    return GitLabSettings(api_url, unquote(project), token, token_variable, **_patience(env))


def _patience(env: Mapping[str, str]) -> dict[str, float]:
    """MLFLOW_GITLAB_RETRY_ATTEMPTS, _RETRY_SECONDS and _REQUEST_SECONDS."""
    return {"retry_attempts": variables.RETRY_ATTEMPTS.read(env),
            "retry_seconds": float(variables.RETRY_SECONDS.read(env)),
            "request_seconds": float(variables.REQUEST_SECONDS.read(env))}


def _api_url(base: str, source: str | None) -> str:
    check_url(base, "GitLab URL", source=source, hint=GITLAB_HINT)
    base = base.rstrip("/")
    return base if base.endswith("/api/v4") else base + "/api/v4"
