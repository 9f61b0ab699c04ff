"""A run's data: log-metric, log-parameter, set-tag, log-batch and metric history.

Single writes validate like ActiveRecord and refuse an existing key; `log-batch`
inserts like `insert_all`: existing or repeated params/tags are silently dropped. Grape
checks every metric and param first (one invalid rejects the batch, nothing written); then
metrics, params and tags are three inserts, no transaction around them (`log-batch` in
`lib/api/ml/mlflow/runs.rb`), so when one fails the kinds before it stay.
Validation helpers live in `mlflow_records`.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from mlflow_gitlab.sandbox import web
from mlflow_gitlab.sandbox.api.ml_common import paginate, required
from mlflow_gitlab.sandbox.api.mlflow_records import (
    RUN_METRICS,
    RUN_PARAMS,
    authorize,
    blank,
    check_row,
    grape_float,
    grape_integer,
    grape_string,
    insert_key_values,
    pg_error,
    raise_invalid,
    too_long,
    validate_metadata,
)
from mlflow_gitlab.sandbox.api.mlflow_runs import (
    add_tags,
    find_candidate,
    link_ci_job,
    render_metric,
)
from mlflow_gitlab.sandbox.app import Router

HISTORY_MAX_RESULTS = 1000

Metric = tuple[str, float, int, int | None]  # key, value, timestamp, step


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


def insert_metrics(db: sqlite3.Connection, candidate_id: int, metrics: list[Metric]) -> None:
    """Append history points (any number per key)."""
    db.executemany(
        "INSERT INTO candidate_metrics (candidate_id, key, value, timestamp, step) "
        "VALUES (?, ?, ?, ?, ?)", [(candidate_id, *metric) for metric in metrics])


def log_param(db: sqlite3.Connection, candidate_id: int, key: str, value: str) -> None:
    """`params.create!`: validations, then the unique index (no uniqueness validation)."""
    raise_invalid([too_long("Name", key, 250), too_long("Value", value, 250),
                   blank("Name", key), blank("Value", value)])
    taken = db.execute("SELECT 1 FROM candidate_params WHERE candidate_id = ? AND key = ?",
                       (candidate_id, key)).fetchone()
    if taken is not None:
        raise pg_error(
            "UniqueViolation",
            'duplicate key value violates unique constraint '
            f'"index_ml_candidate_params_on_candidate_id_on_name"\n'
            f"DETAIL:  Key (candidate_id, name)=({candidate_id}, {key}) already exists.\n")
    db.execute("INSERT INTO candidate_params (candidate_id, key, value) VALUES (?, ?, ?)",
               (candidate_id, key, value))


def set_tag(db: sqlite3.Connection, candidate_id: int, key: str, value: str,
            register_jobs: bool = False) -> None:
    """`add_tag!`: the CI link (which may 500), then `metadata.create!` with validations."""
    link_ci_job(db, candidate_id, [(key, value)], register_jobs)
    taken = db.execute("SELECT 1 FROM candidate_tags WHERE candidate_id = ? AND key = ?",
                       (candidate_id, key)).fetchone() is not None
    validate_metadata(key, value, taken)
    db.execute("INSERT INTO candidate_tags (candidate_id, key, value) VALUES (?, ?, ?)",
               (candidate_id, key, value))


def log_batch(req: web.Request) -> None:
    """Validate every item (Grape), then insert metrics, params and tags, one statement
    each: a failing insert (a too long value, an unknown job) leaves the earlier ones."""
    (run_id,) = _strings(req, "run_id")
    metrics = [_metric(item, f"metrics[{i}]") for i, item in enumerate(_items(req, "metrics"))]
    params = [_key_value(item, f"params[{i}]") for i, item in enumerate(_items(req, "params"))]
    tags = [_key_value(item, f"tags[{i}]") for i, item in enumerate(_items(req, "tags"))]
    candidate = find_candidate(req, run_id)
    with req.app.store.tx() as db:
        for key, *_ in metrics:
            check_row(RUN_METRICS, key, None)
        insert_metrics(db, candidate["id"], metrics)
    with req.app.store.tx() as db:
        insert_key_values(db, RUN_PARAMS, candidate["id"], params)
    with req.app.store.tx() as db:
        add_tags(db, candidate["id"], tags, req.app.settings.register_unknown_jobs)


def metric_history(req: web.Request) -> dict[str, Any]:
    """Every point of one metric, by step then timestamp (nulls last), paginated."""
    run_id, metric_key = _strings(req, "run_id", "metric_key")
    grape_integer(req.params.get("max_results"), "max_results")
    grape_string(req.params.get("page_token"), "page_token")
    candidate = find_candidate(req, run_id)
    rows = req.app.store.all(
        "SELECT * FROM candidate_metrics WHERE candidate_id = ? AND key = ? ORDER BY "
        "step IS NULL, step, timestamp IS NULL, timestamp, id", candidate["id"], metric_key)
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
        raise_invalid([too_long("Name", key, 250), blank("Name", key)])
        with req.app.store.tx() as db:
            insert_metrics(db, candidate["id"], [metric])
        return web.Response(200, {})

    @router.mlflow("POST", "runs/log-parameter")
    def log_param_endpoint(req: web.Request) -> web.Response:
        authorize(req)
        run_id, key, value = _strings(req, "run_id", "key", "value")
        candidate = find_candidate(req, run_id)
        with req.app.store.tx() as db:
            log_param(db, candidate["id"], key, value)
        return web.Response(200, {})

    @router.mlflow("POST", "runs/set-tag")
    def set_tag_endpoint(req: web.Request) -> web.Response:
        authorize(req)
        run_id, key, value = _strings(req, "run_id", "key", "value")
        candidate = find_candidate(req, run_id)
        with req.app.store.tx() as db:
            set_tag(db, candidate["id"], key, value, req.app.settings.register_unknown_jobs)
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
