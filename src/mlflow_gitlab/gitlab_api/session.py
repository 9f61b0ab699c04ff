"""The session every call to GitLab's REST API goes through: authenticated, retried.

The policy lives in `http/retry.py`; here it is applied to every request, ours and
python-gitlab's, on a session of the one HTTP layer (`mlflow_gitlab.http`: deadlines,
redirect rules, capped bodies). A request body given as a factory is re-created for every
attempt, so a retried upload re-reads its file from byte 0; an open stream is never
re-sent once read.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import requests

from mlflow_gitlab import __version__
from mlflow_gitlab.http import HTTPSession, short_url
from mlflow_gitlab.http.failures import raise_if_transient
from mlflow_gitlab.http.retry import Retrier
from mlflow_gitlab.settings import GitLabSettings

TIMEOUT = (15, 300)  # connect, read: GitLab may take a while to answer a large upload
# Errors of a request that never got a complete answer; all are worth another attempt.
NETWORK_ERRORS = (requests.ConnectionError, requests.Timeout,
                  requests.exceptions.ChunkedEncodingError)
# Set while a caller makes each attempt itself (`one_attempt`), as a create sent once does.
_ONE_ATTEMPT: ContextVar[bool] = ContextVar("mlflow_gitlab_one_attempt", default=False)


@contextmanager
def one_attempt() -> Iterator[None]:
    """Within: every request is sent once, as with `retry=False`, also when a library
    (python-gitlab) sends it."""
    token = _ONE_ATTEMPT.set(True)
    try:
        yield
    finally:
        _ONE_ATTEMPT.reset(token)


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

    def request(self, method: str, url: str, *args: Any, retry: bool | None = None,
                **kwargs: Any) -> requests.Response:
        """Send under the retry policy; with `retry=False` (or within `one_attempt`), one
        attempt whose transient failures raise `TransientError` or a network error, for
        callers whose attempt is more than the request (a download that must also arrive
        whole, a create that must not be made twice).

        `deadline=` (seconds) replaces the session's deadline for each attempt (see
        `HTTPSession.request`)."""
        kwargs.setdefault("timeout", TIMEOUT)
        data = kwargs.pop("data", None)
        if retry is None:
            retry = not _ONE_ATTEMPT.get()
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
        return raise_if_transient(super().request(method, url, *args, **kwargs))
