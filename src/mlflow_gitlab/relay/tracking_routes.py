"""The tracking endpoints the relay answers itself: metrics are queued, reads flush first.

`runs/log-metric` and the metrics of `runs/log-batch` are checked, queued and acknowledged at
once. Params and tags go through synchronously (GitLab refuses a key twice, and that error
must reach the child); when GitLab refuses them for good, the batch's
points are still queued (MLflow's async logging merges a `log_param` with other calls'
points). Requests that could observe queued points or end a run (`runs/get`,
`runs/search`, `runs/update`, `metrics/get-history`, ...) wait for the queue to drain
first, so the child reads its own writes. Nothing is queued from a request answered with a
status the client retries (a full queue answers 503 after `queue_wait`), so a retry never
stores a point twice.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import requests

from mlflow_gitlab.errors import GitLabAPIError
from mlflow_gitlab.http.answers import message_in
from mlflow_gitlab.relay.config import RelayConfig
from mlflow_gitlab.relay.forward import forward, odd_answer, reply_from, unavailable
from mlflow_gitlab.relay.http import Handler, Reply, Request, json_reply, mlflow_error
from mlflow_gitlab.relay.journal_intake import JournalIntake
from mlflow_gitlab.relay.points import (
    InvalidPoint,
    Point,
    already_stored,
    parse_point,
    parse_points,
)
from mlflow_gitlab.relay.queue import MetricQueue
from mlflow_gitlab.relay.runs import RunDirectory, rewrite_runs, run_infos
from mlflow_gitlab.relay.sender import stored_points
from mlflow_gitlab.relay.upstream import Upstream

FLUSH_FIRST = frozenset({
    "runs/get", "runs/search", "runs/update", "runs/delete", "runs/restore",
    "metrics/get-history", "metrics/get-history-bulk", "metrics/get-history-bulk-interval",
})
RUN_ANSWERS = frozenset({"runs/create", "runs/get", "runs/search", "runs/update"})
# Statuses MLflow's client retries a request on (`_TRANSIENT_FAILURE_RESPONSE_CODES`).
CLIENT_RETRIES = frozenset({408, 429, 500, 502, 503, 504})
RETRY_FULL = 5  # Retry-After (s) when the queue stayed full


class TrackingRoutes:
    """Handlers for `/api/2.0/mlflow/runs/*` and `metrics/*` on behalf of one relay."""

    def __init__(self, upstream: Upstream, runs: RunDirectory, queue: MetricQueue,
                 config: RelayConfig, journal: JournalIntake | None,
                 flush: Callable[[], object]) -> None:
        self.upstream, self.runs, self.queue = upstream, runs, queue
        self.config, self.journal, self.flush = config, journal, flush
        self.finite = upstream.gitlab  # GitLab refuses NaN and infinities

    def table(self) -> dict[str, Handler]:
        """Endpoint (after `/api/2.0/mlflow/`) -> handler."""
        table: dict[str, Handler] = {e: self.read_through for e in FLUSH_FIRST | RUN_ANSWERS}
        table["runs/log-metric"] = self.log_metric
        table["runs/log-batch"] = self.log_batch
        return table

    def log_metric(self, request: Request) -> Reply:
        body = request.json()
        try:
            return self._queue(_run_id(body), [parse_point(body, finite=self.finite)])
        except InvalidPoint as exc:
            return mlflow_error(400, "INVALID_PARAMETER_VALUE", str(exc))

    def log_batch(self, request: Request) -> Reply:
        body = request.json()
        try:
            run_id = _run_id(body)
            points = parse_points(body.get("metrics") or [], finite=self.finite)
        except InvalidPoint as exc:
            return mlflow_error(400, "INVALID_PARAMETER_VALUE", str(exc))
        rest = {k: body[k] for k in ("params", "tags") if body.get(k)}
        refused = self._send_params_and_tags(run_id, rest) if rest else None
        if refused is None:
            return self._queue(run_id, points)
        if refused.status in CLIENT_RETRIES or not points:
            return refused  # the client sends the whole batch again: queue nothing now
        # Refused for good (GitLab's 400 for a value over its limits): the points are
        # valid and must not go down with it, as they would when MLflow's async logging
        # merged a `log_param` into a batch of other calls' points.
        queued = self._queue(run_id, points)
        if queued.status != 200:
            return queued
        return mlflow_error(refused.status, _error_code(refused), f"{_message(refused)} "
                            f"(the batch's {len(points)} metric point(s) were logged)")

    def read_through(self, request: Request) -> Reply:
        """Flush when the answer could show queued points, then forward; on GitLab, point
        the runs in the answer at the relay's artifact routes."""
        endpoint = request.path.rsplit("/api/2.0/mlflow/", 1)[-1]
        if endpoint in FLUSH_FIRST:
            self.flush()
        reply = forward(self.upstream, request)
        if endpoint in RUN_ANSWERS and reply.status == 200 and isinstance(reply.body, bytes):
            try:
                body = json.loads(reply.body)
            except ValueError:
                return odd_answer(self.upstream, request, reply, "not JSON")
            if not isinstance(body, dict):
                return odd_answer(self.upstream, request, reply, "JSON but not an object")
            if self.upstream.gitlab:
                body = rewrite_runs(body, self.runs)
            else:  # the artifact URIs of a plain MLflow server work as they are
                for _, info in run_infos(body):
                    self.runs.remember(info)
            reply.body = json.dumps(body).encode()
        return reply

    def _send_params_and_tags(self, run_id: str, rest: dict) -> Reply | None:
        """Forward a batch's params and tags; None once sent, else the reply to give."""
        upstream = self.upstream
        try:
            response = upstream.call("POST", upstream.mlflow_url("runs/log-batch"),
                                     idempotent=True, json={"run_id": run_id, **rest})
        except (GitLabAPIError, requests.RequestException) as exc:
            return unavailable(exc)
        return None if response.ok else reply_from(response)

    def _queue(self, run_id: str, points: list[Point]) -> Reply:
        try:
            failure = self.runs.check(run_id)
            if failure is not None:
                return reply_from(failure)
            if any(p.model_id for p in points):
                points = self._without_copies(run_id, points)
        except (GitLabAPIError, requests.RequestException) as exc:
            return unavailable(exc)
        if not self.queue.put(run_id, points, timeout=self.config.queue_wait):
            reply = mlflow_error(503, "TEMPORARILY_UNAVAILABLE", "mlflow-gitlab relay: "
                                 f"{self.config.queue_limit} points are waiting for the "
                                 "tracking server; nothing of this request was queued")
            reply.headers["Retry-After"] = str(RETRY_FULL)
            return reply
        if self.journal is not None:  # on disk before the child hears it was taken
            self.journal.record(run_id, points)
        return json_reply({})

    def _without_copies(self, run_id: str, points: list[Point]) -> list[Point]:
        """Drop points linked to a model (MLflow 3) that the run already holds.

        MLflow 3's `log_model` logs the run's points of the current step again with the new
        model's id; GitLab has no model metrics and would store them twice.
        """
        self.flush()
        drop: set[int] = set()
        for key in {p.key for p in points if p.model_id}:
            mine = [i for i, p in enumerate(points) if p.model_id and p.key == key]
            stored = stored_points(self.upstream, run_id, key)
            if stored is None:
                continue  # no history to compare with: keep them
            flags = already_stored([points[i] for i in mine], stored)
            drop.update(i for i, done in zip(mine, flags, strict=True) if done)
        return [p for i, p in enumerate(points) if i not in drop]


def _run_id(body: dict) -> str:
    run_id = body.get("run_id") or body.get("run_uuid")
    if not isinstance(run_id, str) or not run_id:
        raise InvalidPoint("Missing value for required parameter 'run_id'")
    return run_id


def _error_body(reply: Reply) -> dict:
    try:
        body = json.loads(reply.body) if isinstance(reply.body, bytes) else {}
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _error_code(reply: Reply) -> str:
    return str(_error_body(reply).get("error_code") or "INVALID_PARAMETER_VALUE")


def _message(reply: Reply) -> str:
    raw = reply.body if isinstance(reply.body, bytes) else b""
    return message_in(_error_body(reply) or None, raw, f"HTTP {reply.status}")
