"""The session factory for all of our traffic to GitLab: redirect rules, deadlines, caps.

Every request of an `HTTPSession` has an overall deadline (`deadline.py`): the session's
setting (MLFLOW_GITLAB_REQUEST_SECONDS), never past the end of the retry budget under way,
or the `deadline=` a caller gives (a file transfer, which needs time by its size). Socket
timeouts are cut to what is left of it. A body read into memory (`stream=False`) is capped
at `BODY_LIMIT`; an over-large one is an `UnexpectedAnswer`. Redirects follow
`redirects.py`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import requests

from mlflow_gitlab.http import deadline as deadlines
from mlflow_gitlab.http.adapter import Adapter
from mlflow_gitlab.http.answers import BodyTooLarge, read_body, unexpected
from mlflow_gitlab.http.redirects import RedirectRules
from mlflow_gitlab.http.retry import budget_end

TRANSFER_RATE = 1 << 20  # bytes a second a file transfer is given time for, on top


def transfer_seconds(seconds: float, size: int) -> float:
    """The deadline of a file transfer of `size` bytes: `seconds`, plus 1 s per MiB."""
    return seconds + size / TRANSFER_RATE


class HTTPSession(RedirectRules, requests.Session):
    """A requests session whose every request ends by its deadline.

    Attributes:
        deadline: seconds one request may take, answer included, unless told otherwise.
    """

    def __init__(self, *, deadline: float, user_agent: str,
                 credentials: Mapping[str, str] | None = None) -> None:
        super().__init__()
        self.deadline = deadline
        self.headers["User-Agent"] = user_agent
        self.headers.update(credentials or {})
        adapter = Adapter(pool_maxsize=32)
        self.mount("http://", adapter)
        self.mount("https://", adapter)

    def request(self, method: str | bytes, url: str | bytes, *args: Any,
                deadline: float | None = None, **kwargs: Any) -> requests.Response:
        """requests' `request`, under a deadline.

        Args:
            deadline: seconds for this request (a file transfer's); by default the
                session's, cut to the end of the retry budget under way.

        Raises:
            DeadlineExceeded: the request was not over in time (a `requests.Timeout`).
            UnexpectedAnswer: a body to be read into memory is over `BODY_LIMIT`.
            RedirectRefused: a request with a body was answered by a redirect.
        """
        given = deadline is not None
        current = deadlines.Deadline(deadline if given else self.deadline,
                                     None if given else budget_end())
        left = current.remaining()
        if left <= 0:
            current.close()
            raise current.error()
        kwargs["timeout"] = _cut(kwargs.get("timeout"), left)
        stream = bool(kwargs.get("stream"))
        with deadlines.in_force(current):
            try:
                response = super().request(method, url, *args, **kwargs)
            except requests.RequestException as exc:
                current.close()
                if current.passed and not isinstance(exc, deadlines.DeadlineExceeded):
                    raise current.error() from exc
                raise
            except BaseException:
                current.close()
                raise
        if not stream or response._content_consumed:
            current.close()
        return response

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        stream = kwargs.get("stream", self.stream)
        kwargs["stream"] = True  # the body is read here, capped
        response = super().send(request, **kwargs)
        if not stream:
            found = getattr(response, "deadline", None)
            try:
                read_body(response)
            except BodyTooLarge as exc:
                raise unexpected(response, str(exc)) from None
            except requests.RequestException as exc:
                if found is not None and found.passed:
                    raise found.error() from exc
                raise
        return response


def new_session(*, deadline: float, user_agent: str,
                credentials: Mapping[str, str] | None = None) -> HTTPSession:
    """A session for GitLab (or a tracking server) sending `credentials` as headers."""
    return HTTPSession(deadline=deadline, user_agent=user_agent, credentials=credentials)


def allow_transfer(response: requests.Response, size: int) -> None:
    """Give a streamed answer time to deliver `size` more bytes (1 s per MiB)."""
    found = getattr(response, "deadline", None)
    if found is not None:
        found.extend(size / TRANSFER_RATE)


def _cut(timeout: Any, left: float) -> Any:
    """Socket timeouts no longer than what is left of the deadline."""
    left = max(left, 0.001)
    if timeout is None:
        return (left, left)
    if isinstance(timeout, tuple):
        return tuple(left if t is None else min(t, left) for t in timeout)
    return min(timeout, left)
