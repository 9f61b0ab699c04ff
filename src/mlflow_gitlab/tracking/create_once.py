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
from typing import TypeVar

import requests

from mlflow_gitlab.http.failures import not_sent
from mlflow_gitlab.http.retry import Retrier, TransientError, describe_error

log = logging.getLogger(__name__)
T = TypeVar("T")
NOTHING_MADE = (429,)


def create_once(retrier: Retrier, what: str, send: Callable[[], T],
                find: Callable[[], T | None]) -> T:
    """Send a create under `retrier`'s policy, never making the thing twice.

    Args:
        retrier: the retry policy (attempts, time budget, waits).
        what: names the call in log lines and errors (`POST runs/create`).
        send: one attempt; returns what it made, or raises `TransientError` (see
            `http.failures.raise_if_transient`) or a requests error when there is none.
        find: what an earlier attempt made, or None; called before every attempt that
            follows one that may have worked.

    Raises:
        GitLabAPIError: still failing when the attempts or the time budget ran out.
        MlflowGitlabError: whatever `send` or `find` raise.
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
            return send()
        except TransientError as exc:
            unsure = unsure or exc.status not in NOTHING_MADE
            raise
        except requests.RequestException as exc:
            unsure = unsure or not not_sent(exc)
            raise TransientError(describe_error(exc)) from exc

    return retrier.call(attempt, what)

