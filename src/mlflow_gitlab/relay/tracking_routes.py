"""The tracking endpoints the relay answers itself: metrics are queued, reads flush first.

`runs/log-metric` and the metrics of `runs/log-batch` are checked, queued and acknowledged at
once. Params and tags go through synchronously (GitLab refuses a key twice, and that error
must reach the child, reference §20 #8). Requests that could observe queued points or end
a run (`runs/get`, `runs/search`, `runs/update`, `metrics/get-history`, ...) wait for the
queue to drain first, so the child reads its own writes.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import requests

from mlflow_gitlab.errors import GitLabAPIError
from mlflow_gitlab.relay.forward import forward, reply_from, unavailable
from mlflow_gitlab.relay.http import Handler, Reply, Request, json_reply, mlflow_error
from mlflow_gitlab.relay.points import (
    InvalidPoint,
    Point,
    already_stored,
    parse_point,
    parse_points,
)
from mlflow_gitlab.relay.runs import rewrite_runs, run_infos
from mlflow_gitlab.relay.sender import stored_points

if TYPE_CHECKING:
    from mlflow_gitlab.relay.relay import Relay

FLUSH_FIRST = frozenset({
    "runs/get", "runs/search", "runs/update", "runs/delete", "runs/restore",
    "metrics/get-history", "metrics/get-history-bulk", "metrics/get-history-bulk-interval",
})
RUN_ANSWERS = frozenset({"runs/create", "runs/get", "runs/search", "runs/update"})


class TrackingRoutes:
    """Handlers for `/api/2.0/mlflow/runs/*` and `metrics/*` on behalf of one relay."""

    def __init__(self, relay: Relay) -> None:
        self.relay = relay

    def table(self) -> dict[str, Handler]:
        """Endpoint (after `/api/2.0/mlflow/`) -> handler."""
        table: dict[str, Handler] = {e: self.read_through for e in FLUSH_FIRST | RUN_ANSWERS}
        table["runs/log-metric"] = self.log_metric
        table["runs/log-batch"] = self.log_batch
        return table

    def log_metric(self, request: Request) -> Reply:
        body = request.json()
        try:
            return self._queue(_run_id(body), [parse_point(body)])
        except InvalidPoint as exc:
            return mlflow_error(400, "INVALID_PARAMETER_VALUE", str(exc))

    def log_batch(self, request: Request) -> Reply:
        body = request.json()
        try:
            run_id, points = _run_id(body), parse_points(body.get("metrics") or [])
        except InvalidPoint as exc:
            return mlflow_error(400, "INVALID_PARAMETER_VALUE", str(exc))
        rest = {k: body[k] for k in ("params", "tags") if body.get(k)}
        if rest:
            upstream = self.relay.upstream
            try:
                response = upstream.call("POST", upstream.mlflow_url("runs/log-batch"),
                                         idempotent=True, json={"run_id": run_id, **rest})
            except (GitLabAPIError, requests.RequestException) as exc:
                return unavailable(exc)
            if not response.ok:
                return reply_from(response)
        return self._queue(run_id, points)

    def read_through(self, request: Request) -> Reply:
        """Flush when the answer could show queued points, then forward; on GitLab, point
        the runs in the answer at the relay's artifact routes."""
        endpoint = request.path.rsplit("/api/2.0/mlflow/", 1)[-1]
        if endpoint in FLUSH_FIRST:
            self.relay.flush()
        reply = forward(self.relay.upstream, request)
        if endpoint in RUN_ANSWERS and reply.status == 200 and isinstance(reply.body, bytes):
            body = json.loads(reply.body)
            if self.relay.upstream.gitlab:
                body = rewrite_runs(body, self.relay.runs)
            else:  # the artifact URIs of a plain MLflow server work as they are
                for _, info in run_infos(body):
                    self.relay.runs.remember(info)
            reply.body = json.dumps(body).encode()
        return reply

    def _queue(self, run_id: str, points: list[Point]) -> Reply:
        try:
            failure = self.relay.runs.check(run_id)
            if failure is not None:
                return reply_from(failure)
            if any(p.model_id for p in points):
                points = self._without_copies(run_id, points)
        except (GitLabAPIError, requests.RequestException) as exc:
            return unavailable(exc)
        self.relay.queue.put(run_id, points)
        return json_reply({})

    def _without_copies(self, run_id: str, points: list[Point]) -> list[Point]:
        """Drop points linked to a model (MLflow 3) that the run already holds.

        MLflow 3's `log_model` logs the run's points of the current step again with the new
        model's id; GitLab has no model metrics and would store them twice.
        """
        self.relay.flush()
        drop: set[int] = set()
        for key in {p.key for p in points if p.model_id}:
            mine = [i for i, p in enumerate(points) if p.model_id and p.key == key]
            stored = stored_points(self.relay.upstream, run_id, key)
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
