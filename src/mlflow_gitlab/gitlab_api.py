"""GitLab's REST API: an authenticated session that retries every call under one policy.

The policy lives in `retry.py`; here it is applied to every request, ours and
python-gitlab's, on a session of the one HTTP layer (`mlflow_gitlab.http`: deadlines,
redirect rules, capped bodies). A request body given as a factory is re-created for every
attempt, so a retried upload re-reads its file from byte 0; an open stream is never
re-sent once read.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import quote

import requests

from mlflow_gitlab import __version__
from mlflow_gitlab.errors import ConfigError, GitLabAPIError
from mlflow_gitlab.http import HTTPSession, read_json, server_of, transient_status
from mlflow_gitlab.http import gitlab_message as gitlab_message
from mlflow_gitlab.http import short_url as short_url
from mlflow_gitlab.http.redirects import origin
from mlflow_gitlab.http.retry import Retrier, RetryPolicy, TransientError, is_transient
from mlflow_gitlab.settings import GitLabSettings

TIMEOUT = (15, 300)  # connect, read: GitLab may take a while to answer a large upload
# Errors of a request that never got a complete answer; all are worth another attempt.
NETWORK_ERRORS = (requests.ConnectionError, requests.Timeout,
                  requests.exceptions.ChunkedEncodingError)


class GitLabSession(HTTPSession):
    """A session that authenticates and retries every request, each under a deadline.

    `data` may be a zero-argument callable returning a fresh body; it is called once per
    attempt. Any other stream (an open file) gets a single attempt.
    """

    def __init__(self, settings: GitLabSettings, retrier: Retrier) -> None:
        # A job token travels as JOB-TOKEN, an access token as PRIVATE-TOKEN.
        super().__init__(
            deadline=settings.request_seconds, user_agent=f"mlflow-gitlab/{__version__}",
            credentials={"JOB-TOKEN" if settings.job_token else "PRIVATE-TOKEN": settings.token})
        self.retrier = retrier

    def request(self, method: str, url: str, *args: Any, retry: bool = True,
                **kwargs: Any) -> requests.Response:
        """Send under the retry policy; with `retry=False`, one attempt whose transient
        failures raise `TransientError` or a network error, for callers whose attempt is
        more than the request (a download that must also arrive whole).

        `deadline=` (seconds) replaces the session's deadline for each attempt (see
        `HTTPSession.request`)."""
        kwargs.setdefault("timeout", TIMEOUT)
        data = kwargs.pop("data", None)
        if not retry:
            return self._once(method, url, *args, data=data, **kwargs)
        rewindable = data is None or callable(data) or isinstance(data, bytes | str | dict)

        def attempt() -> requests.Response:
            body = data() if callable(data) else data
            try:
                return self._once(method, url, *args, data=body, **kwargs)
            finally:
                if callable(data) and hasattr(body, "close"):
                    body.close()

        return self.retrier.call(attempt, f"{method.upper()} {short_url(url)}",
                                 attempts=None if rewindable else 1)

    def _once(self, method: str, url: str, *args: Any, **kwargs: Any) -> requests.Response:
        response = super().request(method, url, *args, **kwargs)
        if is_transient(response.status_code):
            said = transient_status(response)
            response.close()
            raise TransientError(said, response.status_code, response.headers)
        return response


class GitLabClient:
    """One project's REST API through a retrying, authenticated session."""

    def __init__(self, settings: GitLabSettings, retrier: Retrier | None = None) -> None:
        self.settings = settings
        self.retrier = retrier or Retrier(
            RetryPolicy(settings.retry_attempts, settings.retry_seconds),
            transient=NETWORK_ERRORS)
        self.session = GitLabSession(settings, self.retrier)
        self.project_url = f"{settings.api_url}/projects/{quote(settings.project, safe='')}"

    def check(self, response: requests.Response, what: str) -> requests.Response:
        """`response` if it succeeded, else a one-line error saying what to fix.

        Args:
            response: an answer from GitLab.
            what: the action, completing "cannot ..." (`upload model.pt to pkg/1.0`).

        Raises:
            ConfigError: 401/403 or an unknown project: the token or the settings are wrong;
                the message names the token's variable, never its value.
            GitLabAPIError: any other failure, with GitLab's message.
        """
        if response.ok:
            return response
        status, message = response.status_code, gitlab_message(response)
        variable = self.settings.token_variable
        moved = _left_origin(response)
        if status in (401, 403) and moved:
            raise ConfigError(
                f"GitLab redirected {response.request.method} {short_url(moved)} to "
                f"{server_of(response.url)}, where the token in {variable} is not sent "
                f"({status}); cannot {what}",
                hint="point MLFLOW_GITLAB_URL at the address GitLab answers on itself")
        if status == 401:
            raise ConfigError(f"GitLab rejected the token in {variable} (401); cannot {what}",
                              hint="check that the token is valid and not expired")
        if status == 403:
            raise ConfigError(
                f"the token in {variable} may not {what} (403: {message})",
                hint="it needs the Developer role and the `api` scope; a CI job token acts "
                     "with the rights of the user who started the pipeline")
        if status == 404 and "Project" in message:
            raise ConfigError(
                f"GitLab project {self.settings.project!r} was not found with the token in "
                f"{variable}", hint="check MLFLOW_GITLAB_PROJECT / CI_PROJECT_ID and that the "
                                    "token's user is a member of the project")
        detail = message if message.startswith(str(status)) else f"{status} {message}"
        raise GitLabAPIError(f"cannot {what}: {detail}")

    def pages(self, path: str, params: Mapping[str, Any], what: str,
              keys: tuple[str, ...] = ()) -> Iterator[dict]:
        """Every item of an offset-paginated project list (`X-Next-Page`), each an object
        holding `keys`.

        Raises:
            UnexpectedAnswer: a page is not a list of such objects.
        """
        query = {**params, "per_page": 100, "page": 1}
        while True:
            response = self.check(self.session.get(self.project_url + path, params=query), what)
            yield from read_json(response, list, keys=keys)
            next_page = response.headers.get("X-Next-Page", "")
            if not next_page.isdigit():
                return
            query["page"] = int(next_page)

    def python_gitlab(self) -> Any:
        """A python-gitlab client on this session, so its calls share the retry policy."""
        import gitlab

        auth = ({"job_token": self.settings.token} if self.settings.job_token
                else {"private_token": self.settings.token})
        return gitlab.Gitlab(self.settings.server_url, session=self.session,
                             retry_transient_errors=False, timeout=TIMEOUT[1], **auth)


def connect(settings: GitLabSettings) -> GitLabClient:
    """A client for `settings`' project; nothing is sent yet."""
    return GitLabClient(settings)


def bearer_client(settings: GitLabSettings) -> GitLabClient:
    """A client sending its token as `Authorization: Bearer`, as GitLab's MLflow and
    `ml_models` file routes want it."""
    client = connect(settings)
    for header in ("PRIVATE-TOKEN", "JOB-TOKEN"):
        client.session.headers.pop(header, None)
    client.session.headers["Authorization"] = f"Bearer {settings.token}"
    return client


def _left_origin(response: requests.Response) -> str | None:
    """The first URL of a redirect chain that left its origin (so lost its token), if any."""
    chain = [r.url for r in response.history] + [response.url]
    first = chain[0]
    return first if any(origin(url) != origin(first) for url in chain[1:]) else None
