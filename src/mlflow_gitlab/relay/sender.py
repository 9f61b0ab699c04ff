"""Sending metric batches exactly once: retry what was not stored, never what was.

GitLab appends every metric it receives, so re-sending a batch it stored duplicates its
points. A 429/503 answer or a connection that never opened is safely retried (the server
did not act). When the answer is lost (timeout, dropped connection, 500/502/504) the batch
may or may not be stored: the sender waits `verify_delay`, reads the first key's history
back and re-sends only if the batch is not there. A server without `metrics/get-history`
(GitLab before it) cannot be asked: such a batch is not re-sent and counted
as unconfirmed. A 400 rejects a whole batch, so the batch is halved until
the bad points are found and only they are dropped.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import requests

from mlflow_gitlab.errors import GitLabAPIError
from mlflow_gitlab.http import read_json, unexpected
from mlflow_gitlab.http.answers import gitlab_message
from mlflow_gitlab.http.failures import not_sent
from mlflow_gitlab.http.retry import TransientError, describe_error, is_transient
from mlflow_gitlab.relay.points import InvalidPoint, Point, missing_from, parse_point
from mlflow_gitlab.relay.upstream import NOT_PROCESSED, Upstream

log = logging.getLogger(__name__)
_PAGE = 1000


@dataclass
class SendStats:
    """What sending cost and how it ended, in requests and points."""

    requests: int = 0  # log-batch requests, retries included
    retries: int = 0  # failed attempts absorbed by a later one
    checks: int = 0  # lost answers resolved by reading the history back
    rejected: int = 0  # points the server refused (a 4xx on a single point)
    unconfirmed: int = 0  # points whose answer was lost and could not be checked
    unsent: int = 0  # points given up on after the retry policy (to the spool)


class Unconfirmed(Exception):
    """The server's answer was lost and it cannot say whether it stored the batch."""


class _Rejected(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status} {message}")
        self.status = status


class BatchSender:
    """Sends one run's points as `runs/log-batch` requests of at most 1,000 points."""

    def __init__(self, upstream: Upstream, verify_delay: float,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.upstream, self.verify_delay, self.sleep = upstream, verify_delay, sleep
        self.stats = SendStats()
        self.degraded = False  # the last batch used up the policy: try the next one once

    def send(self, run_id: str, points: list[Point]) -> tuple[int, list[Point]]:
        """Send `points`; return how many were stored and those never sent (to spool)."""
        what = f"log-batch of {len(points)} point(s) to run {run_id}"
        try:
            self.upstream.retrier.call(lambda: self._attempt(run_id, points), what,
                                       attempts=1 if self.degraded else None)
        except _Rejected as exc:
            if exc.status == 400 and len(points) > 1:
                half = len(points) // 2
                first, rest = self.send(run_id, points[:half]), self.send(run_id, points[half:])
                return first[0] + rest[0], first[1] + rest[1]
            self.stats.rejected += len(points)
            log.error("the tracking server refused %d point(s) of %r for run %s: %s",
                      len(points), points[0].key, run_id, exc)
            return 0, []
        except Unconfirmed as exc:
            self.stats.unconfirmed += len(points)
            log.warning("%s: the answer was lost and %s; not re-sent, to avoid duplicates",
                        what, exc)
            return 0, []
        except GitLabAPIError as exc:
            self.degraded = True
            self.stats.unsent += len(points)
            log.error("%s", exc)
            return 0, list(points)
        self.degraded = False
        return len(points), []

    def _attempt(self, run_id: str, points: list[Point]) -> None:
        url = self.upstream.mlflow_url("runs/log-batch")
        body = {"run_id": run_id, "metrics": [p.to_json() for p in points]}
        self.stats.requests += 1
        try:
            response = self.upstream.once("POST", url, json=body)
        except requests.RequestException as exc:
            if not_sent(exc):
                self._retrying()
                raise TransientError(describe_error(exc)) from exc
            return self._resolve(run_id, points, TransientError(describe_error(exc)))
        status = response.status_code
        if response.ok:
            return None
        failure = TransientError(f"{status} {response.reason}", status, response.headers)
        if status in NOT_PROCESSED:
            self._retrying()
            raise failure
        if is_transient(status):
            return self._resolve(run_id, points, failure)
        raise _Rejected(status, gitlab_message(response))

    def _resolve(self, run_id: str, points: list[Point], failure: TransientError) -> None:
        """After a lost answer: done if the batch is stored, else retry (raise `failure`)."""
        self.sleep(self.verify_delay)
        self.stats.checks += 1
        key = points[0].key
        try:
            stored = stored_points(self.upstream, run_id, key)
        except GitLabAPIError as exc:
            raise Unconfirmed(f"reading the history back failed ({exc})") from exc
        if stored is None:
            raise Unconfirmed("the server has no metrics/get-history to check with")
        if not missing_from([p for p in points if p.key == key], stored):
            log.info("a lost answer to a log-batch for run %s: the batch was stored", run_id)
            return
        self._retrying()
        raise failure

    def _retrying(self) -> None:
        self.stats.retries += 1


def stored_points(upstream: Upstream, run_id: str, key: str) -> list[Point] | None:
    """Every stored point of `key` on run `run_id`; None when the server cannot list them.

    Raises:
        GitLabAPIError: the server stayed unreachable under the retry policy.
    """
    url = upstream.mlflow_url("metrics/get-history")
    params: dict[str, str | int] = {"run_id": run_id, "metric_key": key, "max_results": _PAGE}
    points: list[Point] = []
    while True:
        response = upstream.call("GET", url, params=params)
        if response.status_code == 404 and "error_code" not in response.text:
            return None  # the route itself is missing (older GitLab)
        if not response.ok:
            raise GitLabAPIError(f"cannot read the history of {key!r}: "
                                 f"{response.status_code} {gitlab_message(response)}")
        body = read_json(response, dict)
        metrics = body.get("metrics") or []
        if not isinstance(metrics, list):
            raise unexpected(response, "metrics that are not a list")
        for item in metrics:
            try:
                points.append(parse_point(item))
            except InvalidPoint:
                continue
        token = body.get("next_page_token")
        if not token:
            return points
        params["page_token"] = token
