"""A run's data: log-metric, log-parameter, set-tag, log-batch and metric history.

Grape checks every metric and param of `log-batch` first (one invalid rejects the batch,
nothing written); the writes and their rules are `backend.candidate_data`.
"""

from __future__ import annotations

from typing import Any

from mlflow_gitlab.sandbox import web
from mlflow_gitlab.sandbox.backend import candidate_data, candidates
from mlflow_gitlab.sandbox.backend.candidate_data import Metric
from mlflow_gitlab.sandbox.router import Router
from mlflow_gitlab.sandbox.routes.ml_common import paginate, required
from mlflow_gitlab.sandbox.routes.mlflow_records import (
    authorize,
    grape_float,
    grape_integer,
    grape_string,
)
from mlflow_gitlab.sandbox.routes.mlflow_runs import find_candidate, render_metric

HISTORY_MAX_RESULTS = 1000


def _strings(req: web.Request, *names: str) -> list[str]:
    """Required `type: String` params, coerced."""
    return [grape_string(value, name)
            for value, name in zip(required(req, *names), names, strict=True)]


def _metric(item: dict[str, Any], prefix: str) -> Metric:
    """One metric's Grape params: key, value (Float), timestamp (Integer), step (Integer)."""
    missing = [f"{prefix}[{n}] is missing" for n in ("key", "value", "timestamp")
               if item.get(n) is None]
    if missing:
        raise web.grape_error(", ".join(missing))
    return (grape_string(item["key"], f"{prefix}[key]"),
            grape_float(item["value"], f"{prefix}[value]"),
            grape_integer(item["timestamp"], f"{prefix}[timestamp]"),
            grape_integer(item.get("step"), f"{prefix}[step]"))


def _key_value(item: dict[str, Any], prefix: str) -> tuple[str, str]:
    """One param's or tag's Grape params: key and value, both required Strings."""
    missing = [f"{prefix}[{n}] is missing" for n in ("key", "value") if item.get(n) is None]
    if missing:
        raise web.grape_error(", ".join(missing))
    key = grape_string(item["key"], f"{prefix}[key]")
    return key, grape_string(item["value"], f"{prefix}[value]")


def _items(req: web.Request, name: str) -> list[dict[str, Any]]:
    """An `optional :<name>, type: Array` of objects (default `[]`)."""
    value = req.params.get(name)
    if value is None:
        return []
    if not isinstance(value, list):
        raise web.grape_error(f"{name} is invalid")
    # A non-object element has none of the required keys.
    return [item if isinstance(item, dict) else {} for item in value]


def log_batch(req: web.Request) -> None:
    """Validate every item (Grape), then insert metrics, params and tags, one statement
    each: a failing insert (a too long value, an unknown job) leaves the earlier ones."""
    (run_id,) = _strings(req, "run_id")
    metrics = [_metric(item, f"metrics[{i}]") for i, item in enumerate(_items(req, "metrics"))]
    params = [_key_value(item, f"params[{i}]") for i, item in enumerate(_items(req, "params"))]
    tags = [_key_value(item, f"tags[{i}]") for i, item in enumerate(_items(req, "tags"))]
    candidate = find_candidate(req, run_id)
    candidate_data.log_batch(req.app.store, candidate["id"], metrics, params, tags,
                             req.app.settings.register_unknown_jobs)


def metric_history(req: web.Request) -> dict[str, Any]:
    """Every point of one metric, by step then timestamp (nulls last), paginated."""
    run_id, metric_key = _strings(req, "run_id", "metric_key")
    grape_integer(req.params.get("max_results"), "max_results")
    grape_string(req.params.get("page_token"), "page_token")
    candidate = find_candidate(req, run_id)
    rows = candidates.metric_history(req.app.store, candidate["id"], metric_key)
    page, token = paginate(rows, req, HISTORY_MAX_RESULTS)
    return {"metrics": [render_metric(row) for row in page], "next_page_token": token}


def register(router: Router) -> None:
    """Register the run data endpoints."""

    @router.mlflow("POST", "runs/log-metric")
    def log_metric_endpoint(req: web.Request) -> web.Response:
        authorize(req)
        run_id, key, value, timestamp = required(req, "run_id", "key", "value", "timestamp")
        key = grape_string(key, "key")
        metric = (key, grape_float(value, "value"), grape_integer(timestamp, "timestamp"),
                  grape_integer(req.params.get("step"), "step"))
        candidate = find_candidate(req, grape_string(run_id, "run_id"))
        candidate_data.log_metric(req.app.store, candidate["id"], metric)
        return web.Response(200, {})

    @router.mlflow("POST", "runs/log-parameter")
    def log_param_endpoint(req: web.Request) -> web.Response:
        authorize(req)
        run_id, key, value = _strings(req, "run_id", "key", "value")
        candidate = find_candidate(req, run_id)
        candidate_data.log_param(req.app.store, candidate["id"], key, value)
        return web.Response(200, {})

    @router.mlflow("POST", "runs/set-tag")
    def set_tag_endpoint(req: web.Request) -> web.Response:
        authorize(req)
        run_id, key, value = _strings(req, "run_id", "key", "value")
        candidate = find_candidate(req, run_id)
        candidate_data.set_tag(req.app.store, candidate["id"], key, value,
                               req.app.settings.register_unknown_jobs)
        return web.Response(200, {})

    @router.mlflow("POST", "runs/log-batch")
    def log_batch_endpoint(req: web.Request) -> web.Response:
        authorize(req)
        log_batch(req)
        return web.Response(200, {})

    @router.mlflow("GET", "metrics/get-history")
    def get_history(req: web.Request) -> web.Response:
        authorize(req)
        return web.Response(200, metric_history(req))
