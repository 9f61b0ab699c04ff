"""Where to talk to: the tracking URI, GitLab's URLs, the project and the tokens.

Read from the environment (standard `MLFLOW_*` and `CI_*` variables as they are, our own as
`MLFLOW_GITLAB_*`) with CLI flags taking precedence; errors name the variable to set.
Every token read is registered with the redactor and checked before anything is sent.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import unquote

from mlflow_gitlab import redaction
from mlflow_gitlab.errors import ConfigError
from mlflow_gitlab.redaction import strip_url_credentials
from mlflow_gitlab.tokens import read_token, register_url_password
from mlflow_gitlab.urls import check_url

_GITLAB_HINT = "set MLFLOW_GITLAB_URL=https://gitlab.example.com"
_TRACKING_HINT = ("set MLFLOW_TRACKING_URI to an http(s) URL, e.g. "
                  "https://gitlab.example.com/api/v4/projects/<id>/ml/mlflow")
_GITLAB_TRACKING = re.compile(r"\A(?P<api>https?://.+/api/v4)/projects/(?P<project>[^/]+)"
                              r"/ml/mlflow/?\Z")


def gitlab_api_of(tracking_uri: str | None) -> str | None:
    """The GitLab API URL of a GitLab MLflow tracking URI (`<api>/projects/<id>/ml/mlflow`)."""
    match = _GITLAB_TRACKING.match(tracking_uri or "")
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
    uri = tracking_uri or env.get("MLFLOW_TRACKING_URI")
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
    token = read_token(env, "MLFLOW_TRACKING_TOKEN")
    retry = {"retry_attempts": _positive_int(env, "MLFLOW_GITLAB_RETRY_ATTEMPTS", 6),
             "retry_seconds": float(_positive_int(env, "MLFLOW_GITLAB_RETRY_SECONDS", 300))}
    match = _GITLAB_TRACKING.match(uri)
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
        check_url(api, "GitLab URL", source="CI_API_V4_URL", hint=_GITLAB_HINT)
        return f"{api.rstrip('/')}/projects/{project}/ml/mlflow"
    return None


def _why_no_default(env: Mapping[str, str]) -> str:
    """Why a job's own MLflow endpoint cannot be the default, for the error."""
    if env.get("GITLAB_CI") != "true":
        return "this is not a GitLab CI job"
    missing = [name for name in ("CI_API_V4_URL", "CI_PROJECT_ID") if not env.get(name)]
    return f"this GitLab CI job has no {' or '.join(missing)} to find the project's endpoint"


# --- GitLab's REST API (packages, and later MRs, notes, pipelines) ---------------------------

_SIZE = re.compile(r"\A\s*(?P<n>\d+)\s*(?P<unit>[KMGT]i?B?|B)?\s*\Z", re.IGNORECASE)
_UNITS = {"": 1, "B": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}
DEFAULT_MAX_FILE_SIZE = 5 * 1024**3  # GitLab's `generic_packages_max_file_size` plan limit
# Seconds one request may take, answer included (file transfers get 1 s per MiB more);
# twice GitLab's own 60 s request timeout.
REQUEST_SECONDS = 120


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
    tracking = _GITLAB_TRACKING.match(env.get("MLFLOW_TRACKING_URI") or "")
    sources = [(url, None)] + [(env.get(name), name) for name in (
        "MLFLOW_GITLAB_URL", "CI_API_V4_URL", "CI_SERVER_URL")]
    sources.append((tracking["api"] if tracking else None, "MLFLOW_TRACKING_URI"))
    base, source = next(((value, name) for value, name in sources if value), (None, None))
    if not base:
        if not required:
            return None
        raise ConfigError("no GitLab URL: MLFLOW_GITLAB_URL is not set and this is not a "
                          "GitLab CI job", hint="set MLFLOW_GITLAB_URL=https://gitlab.example.com")
    register_url_password(base)
    api_url = _api_url(base, source)
    project = (project or env.get("MLFLOW_GITLAB_PROJECT") or env.get("CI_PROJECT_ID")
               or (tracking["project"] if tracking else None))
    if not project:
        raise ConfigError("no GitLab project: MLFLOW_GITLAB_PROJECT is not set and this is not "
                          "a GitLab CI job", hint="set MLFLOW_GITLAB_PROJECT to the project's "
                          "id or full path (group/project)")
    for variable in ("MLFLOW_GITLAB_TOKEN", "CI_JOB_TOKEN", "MLFLOW_TRACKING_TOKEN"):
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
    return {"retry_attempts": _positive_int(env, "MLFLOW_GITLAB_RETRY_ATTEMPTS", 6),
            "retry_seconds": float(_positive_int(env, "MLFLOW_GITLAB_RETRY_SECONDS", 300)),
            "request_seconds": float(_positive_int(env, "MLFLOW_GITLAB_REQUEST_SECONDS",
                                                   REQUEST_SECONDS))}


def parse_size(value: str, variable: str) -> int:
    """`5368709120`, `5GiB`, `512M`, `64 MiB` -> bytes (binary units).

    Raises:
        ConfigError: the value is not a size; the message names `variable`.
    """
    match = _SIZE.match(str(value))
    if match is None:
        raise ConfigError(f"{variable}={value!r} is not a size",
                          hint="use bytes or a binary unit: 5368709120, 5GiB, 512MiB")
    unit = (match["unit"] or "").upper().removesuffix("B").removesuffix("I")
    return int(match["n"]) * _UNITS[unit]


def _api_url(base: str, source: str | None) -> str:
    check_url(base, "GitLab URL", source=source, hint=_GITLAB_HINT)
    base = base.rstrip("/")
    return base if base.endswith("/api/v4") else base + "/api/v4"


def _positive_int(env: Mapping[str, str], variable: str, default: int) -> int:
    raw = env.get(variable)
    if raw is None or raw == "":
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise ConfigError(f"{variable}={raw!r} is not a positive whole number")
    return int(raw)


@dataclass(frozen=True)
class TransferSettings:
    """How package files move: files in flight at once, and the server's per-file limit."""

    parallel: int = 4
    max_file_size: int = DEFAULT_MAX_FILE_SIZE  # 0: no limit, never split


def transfer_settings(env: Mapping[str, str] | None = None, *, parallel: int | None = None,
                      max_file_size: str | int | None = None) -> TransferSettings:
    """MLFLOW_GITLAB_PARALLEL and MLFLOW_GITLAB_MAX_FILE_SIZE, unless given explicitly.

    Raises:
        ConfigError: a value is malformed; the message names the variable.
    """
    env = os.environ if env is None else env
    if parallel is None:
        parallel = _positive_int(env, "MLFLOW_GITLAB_PARALLEL", TransferSettings.parallel)
    if max_file_size is None:
        max_file_size = env.get("MLFLOW_GITLAB_MAX_FILE_SIZE") or DEFAULT_MAX_FILE_SIZE
    if isinstance(max_file_size, str):
        max_file_size = parse_size(max_file_size, "MLFLOW_GITLAB_MAX_FILE_SIZE")
    return TransferSettings(parallel, max_file_size)
