"""Creates made safe to retry: after an attempt that may have worked, look before sending again.

A create is not idempotent: sent twice, it makes two runs, versions or notes. Only a 429
(the rate limiter answers before the application runs) or a connection that never opened
prove that nothing was made. After any other failure (a 5xx, a timeout, a dropped
connection) the server may have made the thing and lost the answer, so the next attempt
first looks for it (`find`) and sends the create again only when it is not there.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

import requests

from mlflow_gitlab.http import transient_status
from mlflow_gitlab.http.retry import Retrier, TransientError, describe_error, is_transient
from mlflow_gitlab.relay.upstream import not_sent

log = logging.getLogger(__name__)
T = TypeVar("T")
NOTHING_MADE = (429,)


def create_once(retrier: Retrier, what: str, send: Callable[[], Any],
                find: Callable[[], T | None], accept: Callable[[Any], T]) -> T:
    """Send a create under `retrier`'s policy, never making the thing twice.

    Args:
        retrier: the retry policy (attempts, time budget, waits).
        what: names the call in log lines and errors (`POST runs/create`).
        send: one attempt; returns the answer (or what it made), or raises
            `TransientError` or a requests error when there is none.
        find: what an earlier attempt made, or None; called before every attempt that
            follows one that may have worked.
        accept: turns a non-transient answer into the result, or raises its error.

    Raises:
        GitLabAPIError: still failing when the attempts or the time budget ran out.
        MlflowGitlabError: whatever `find` or `accept` raise.
    """
    unsure = False

    def attempt() -> T:
        nonlocal unsure
        if unsure:
            found = find()
            if found is not None:
                log.info("%s: an earlier attempt had made it; not sent again", what)
                return found
        try:
            response = send()
        except TransientError as exc:
            unsure = unsure or exc.status not in NOTHING_MADE
            raise
        except requests.RequestException as exc:
            unsure = unsure or not not_sent(exc)
            raise TransientError(describe_error(exc)) from exc
        status = response.status_code if isinstance(response, requests.Response) else 200
        if is_transient(status):
            unsure = unsure or status not in NOTHING_MADE
            said = transient_status(response)
            response.close()
            raise TransientError(said, status, response.headers)
        return accept(response)

    return retrier.call(attempt, what)

