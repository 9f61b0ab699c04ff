"""A candidate's data writes: log-metric, log-parameter, set-tag and log-batch.

Single writes validate like ActiveRecord and refuse an existing key; `log_batch` inserts
like `insert_all`: existing or repeated params/tags are silently dropped.
"""

from __future__ import annotations

import sqlite3

from mlflow_gitlab.sandbox.backend.candidates import Items, add_tags, link_ci_job
from mlflow_gitlab.sandbox.backend.records import (
    RUN_METRICS,
    RUN_PARAMS,
    blank,
    check_row,
    insert_key_values,
    pg_error,
    raise_invalid,
    too_long,
    validate_metadata,
)
from mlflow_gitlab.sandbox.backend.store import Store

Metric = tuple[str, float, int, int | None]  # key, value, timestamp, step


def log_metric(store: Store, candidate_id: int, metric: Metric) -> None:
    """`metrics.create!`: the name validations, then one history point."""
    key = metric[0]
    raise_invalid([too_long("Name", key, 250), blank("Name", key)])
    with store.tx() as db:
        insert_metrics(db, candidate_id, [metric])


def insert_metrics(db: sqlite3.Connection, candidate_id: int, metrics: list[Metric]) -> None:
    """Append history points (any number per key)."""
    db.executemany(
        "INSERT INTO candidate_metrics (candidate_id, key, value, timestamp, step) "
        "VALUES (?, ?, ?, ?, ?)", [(candidate_id, *metric) for metric in metrics])


def log_param(store: Store, candidate_id: int, key: str, value: str) -> None:
    """`params.create!`: validations, then the unique index (no uniqueness validation)."""
    raise_invalid([too_long("Name", key, 250), too_long("Value", value, 250),
                   blank("Name", key), blank("Value", value)])
    with store.tx() as db:
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


def set_tag(store: Store, candidate_id: int, key: str, value: str,
            register_jobs: bool = False) -> None:
    """`add_tag!`: the CI link (which may break), then `metadata.create!` with validations."""
    with store.tx() as db:
        link_ci_job(db, candidate_id, [(key, value)], register_jobs)
        taken = db.execute("SELECT 1 FROM candidate_tags WHERE candidate_id = ? AND key = ?",
                           (candidate_id, key)).fetchone() is not None
        validate_metadata(key, value, taken)
        db.execute("INSERT INTO candidate_tags (candidate_id, key, value) VALUES (?, ?, ?)",
                   (candidate_id, key, value))


def log_batch(store: Store, candidate_id: int, metrics: list[Metric], params: Items,
              tags: Items, register_jobs: bool = False) -> None:
    """Metrics, params and tags, one statement each and no transaction around them
    (`log-batch` in `lib/api/ml/mlflow/runs.rb`): a failing kind leaves the earlier ones."""
    with store.tx() as db:
        for key, *_ in metrics:
            check_row(RUN_METRICS, key, None)
        insert_metrics(db, candidate_id, metrics)
    with store.tx() as db:
        insert_key_values(db, RUN_PARAMS, candidate_id, params)
    with store.tx() as db:
        add_tags(db, candidate_id, tags, register_jobs)
