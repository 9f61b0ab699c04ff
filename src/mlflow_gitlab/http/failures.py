"""What a failed request says about a retry: whether it reached the server, whether its
answer is worth another attempt."""

from __future__ import annotations

import requests
from urllib3.exceptions import NewConnectionError

from mlflow_gitlab.http.answers import transient_status
from mlflow_gitlab.http.retry import TransientError, is_transient


def not_sent(exc: BaseException) -> bool:
    """Whether a request failed before any of it reached the server (no connection)."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(exc, requests.ConnectionError) and isinstance(reason, NewConnectionError)


def raise_if_transient(response: requests.Response) -> requests.Response:
    """The answer, unless its status is worth another attempt: then `TransientError`
    (with the status and headers, for the wait), the answer closed."""
    if is_transient(response.status_code):
        said = transient_status(response)
        response.close()
        raise TransientError(said, response.status_code, response.headers)
    return response
