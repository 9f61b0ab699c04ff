"""The tracking server behind the relay: one authenticated session, retried under the policy.

The session comes from the one HTTP layer (`mlflow_gitlab.http`): every request has an
overall deadline (MLFLOW_GITLAB_REQUEST_SECONDS, within the retry budget), credentials
never follow a redirect to another origin, a body is never re-sent after a redirect, and
bodies read into memory are capped. Read JSON answers with `mlflow_gitlab.http.read_json`.

Only requests the server cannot have acted on are retried blindly: a 429 or 503 answer
(rate limiter and maintenance answer before the application runs) and a
connection that never opened. Reads are retried on any transient failure. Anything else
that ends without an answer is the caller's to resolve (see `sender.py`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import requests

from mlflow_gitlab import __version__
from mlflow_gitlab.http import new_session
from mlflow_gitlab.http.failures import not_sent
from mlflow_gitlab.http.retry import Retrier, TransientError, describe_error, is_transient
from mlflow_gitlab.relay.config import RelayConfig
from mlflow_gitlab.settings import TrackingSettings

NOT_PROCESSED = (429, 503)
_TAGS_PER_BATCH = 100  # params + tags per log-batch, MLflow's own client limit


class Upstream:
    """HTTP to the real tracking server (GitLab or plain MLflow), with the token added.

    Attributes:
        base: the tracking URI, without a trailing slash.
        gitlab: whether it is a GitLab project's MLflow endpoint.
        packages_url: the project's packages API (GitLab only).
    """

    def __init__(self, settings: TrackingSettings, config: RelayConfig,
                 retrier: Retrier | None = None) -> None:
        self.base = settings.tracking_uri.rstrip("/")
        self.gitlab = settings.is_gitlab
        self.packages_url = (f"{settings.gitlab_api_url}/projects/{settings.project}/packages"
                             if settings.is_gitlab else "")
        self.timeout = (config.connect_timeout, config.read_timeout)
        self.retrier = retrier or Retrier(config.retry)
        self.request_seconds = config.request_seconds
        # MLflow's own transport; GitLab's ml_model file routes take only Bearer.
        self.session = new_session(
            deadline=config.request_seconds, user_agent=f"mlflow-gitlab-relay/{__version__}",
            credentials={"Authorization": f"Bearer {settings.token}"} if settings.token else {})

    def mlflow_url(self, endpoint: str, version: str = "2.0") -> str:
        """`runs/get` -> `<tracking uri>/api/2.0/mlflow/runs/get`."""
        return f"{self.base}/api/{version}/mlflow/{endpoint}"

    def once(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        """One attempt, no retry; network errors raise as requests raises them (a passed
        deadline as `DeadlineExceeded`, a `requests.Timeout`).

        `deadline=` (seconds) replaces the session's for this request (a large body)."""
        kwargs.setdefault("timeout", self.timeout)
        return self.session.request(method, url, **kwargs)

    def call(self, method: str, url: str, *, idempotent: bool | None = None,
             attempts: int | None = None, **kwargs: Any) -> requests.Response:
        """Send under the retry policy; return the final answer, whatever its status.

        Args:
            method, url: the request.
            idempotent: retry on every transient failure (default: for GET and HEAD only);
                otherwise only where the server cannot have acted (module docstring).
            attempts: a lower attempt limit (1 for a body that cannot be sent twice).
            kwargs: passed to requests (`params`, `json`, `data`, `headers`, `stream`), and
                `deadline` (seconds per attempt, for a large body).

        Raises:
            GitLabAPIError: still failing when the attempts or the time budget ran out.
            UnexpectedAnswer: a body to be read into memory is over the limit.
            RedirectRefused: a request with a body was answered by a redirect.
            requests.RequestException: a non-idempotent request ended without an answer.
        """
        if idempotent is None:
            idempotent = method.upper() in ("GET", "HEAD")

        def attempt() -> requests.Response:
            try:
                response = self.once(method, url, **kwargs)
            except requests.RequestException as exc:
                if idempotent or not_sent(exc):
                    raise TransientError(describe_error(exc)) from exc
                raise
            status = response.status_code
            if status in NOT_PROCESSED or (idempotent and is_transient(status)):
                response.close()
                raise TransientError(f"{status} {response.reason}", status, response.headers)
            return response

        return self.retrier.call(attempt, f"{method.upper()} {short(url)}", attempts=attempts)

    def log_tags(self, run_id: str, tags: Mapping[str, str]) -> requests.Response | None:
        """Set run tags with `log-batch`; None when all were sent, else the failed answer.

        GitLab keeps a key's first value there and drops later ones silently, so sending
        the same tags again is harmless and the call may be retried.
        """
        items = [{"key": k, "value": v} for k, v in tags.items()]
        for i in range(0, len(items), _TAGS_PER_BATCH):
            response = self.call("POST", self.mlflow_url("runs/log-batch"), idempotent=True,
                                 json={"run_id": run_id, "tags": items[i:i + _TAGS_PER_BATCH]})
            if not response.ok:
                return response
        return None

    def close(self) -> None:
        self.session.close()


def short(url: str) -> str:
    """A URL's MLflow endpoint or package path, for log lines (no host, no query)."""
    path = url.split("?", 1)[0]
    for marker in ("/api/2.0/mlflow/", "/api/2.0/mlflow-artifacts/", "/packages/"):
        if marker in path:
            return path.split(marker, 1)[1]
    return path
