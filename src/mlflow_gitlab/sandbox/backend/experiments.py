"""Experiments (GitLab: `Ml::Experiment`): lookup, listing in the finder's order, writes.

An experiment's public id is its per-project iid; deletes are hard, with its candidates.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from mlflow_gitlab.sandbox.backend.errors import AlreadyExists, NotFound, Refused
from mlflow_gitlab.sandbox.backend.records import (
    EXPERIMENT_TAGS,
    ar_integer,
    insert_key_values,
    validate_metadata,
)
from mlflow_gitlab.sandbox.backend.store import Store, next_iid, now

# `Projects::Ml::ExperimentFinder`: whitelisted columns, anything else orders by id.
ORDER_COLUMNS = ("name", "created_at", "updated_at", "id")


def insert_experiment(db: sqlite3.Connection, project_id: int, name: str,
                      user_id: int | None, model_id: int | None = None) -> sqlite3.Row:
    """Create an experiment row with the next iid; raises sqlite3.IntegrityError on a dup."""
    t = now()
    cur = db.execute(
        "INSERT INTO experiments (project_id, iid, name, model_id, user_id, created_at, "
        "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (project_id, next_iid(db, "experiments", project_id), name, model_id, user_id, t, t))
    return db.execute("SELECT * FROM experiments WHERE id = ?", (cur.lastrowid,)).fetchone()


# --- reads --------------------------------------------------------------------------------


def find_experiment(store: Store, project_id: int, iid: Any = None, name: Any = None
                    ) -> sqlite3.Row:
    """`by_iid_or_name`: the iid wins whenever given (even `""`); unknown -> NotFound."""
    row = None
    if iid is not None:
        number = ar_integer(iid)
        if number is not None:
            row = store.one("SELECT * FROM experiments WHERE project_id = ? AND iid = ?",
                            project_id, number)
    elif name is not None:
        row = store.one("SELECT * FROM experiments WHERE project_id = ? AND name = ?",
                        project_id, name)
    if row is None:
        raise NotFound()
    return row


def get_experiment(store: Store, experiment_id: int) -> sqlite3.Row | None:
    """An experiment by row id."""
    return store.one("SELECT * FROM experiments WHERE id = ?", experiment_id)


def experiment_order(order_by: str | None) -> str:
    """`model_order_params` + the finder: an SQL ORDER BY, tie-break `id desc`.

    A blank `order_by` (sent explicitly; absent means the default `created_at DESC`) orders by
    name ascending; no direction means ascending; a bad direction means descending.
    """
    if order_by is None:
        order_by = "created_at DESC"
    if not order_by.strip():
        column, direction = "name", "asc"
    else:
        parts = order_by.lower().split()
        column = "updated_at" if parts[0] == "last_updated_timestamp" else parts[0]
        direction = parts[1] if len(parts) > 1 else "asc"
    if column not in ORDER_COLUMNS:
        column = "id"
    if direction not in ("asc", "desc"):
        direction = "desc"
    return f"{column} {direction.upper()}, id DESC"


def list_experiments(store: Store, project_id: int, order_by: str | None = "id desc"
                     ) -> list[sqlite3.Row]:
    """The project's experiments in the finder's order (default: newest id first)."""
    return store.all(f"SELECT * FROM experiments WHERE project_id = ? "
                     f"ORDER BY {experiment_order(order_by)}", project_id)


def experiment_tags(store: Store, experiment_id: int) -> list[sqlite3.Row]:
    """The experiment's tags (`key`, `value`), in insertion order."""
    return store.all("SELECT key, value FROM experiment_tags WHERE experiment_id = ? "
                     "ORDER BY id", experiment_id)


def candidate_counts(store: Store, project_id: int) -> dict[int, int]:
    """Experiment row id -> how many candidates it holds, for the project's experiments."""
    rows = store.all("SELECT experiment_id, COUNT(*) AS n FROM candidates WHERE project_id = ? "
                     "GROUP BY experiment_id", project_id)
    return {row["experiment_id"]: row["n"] for row in rows}


# --- writes -------------------------------------------------------------------------------


def create_experiment(store: Store, project_id: int, name: str, user_id: int | None,
                      tags: list[tuple[str | None, str | None]]) -> sqlite3.Row:
    """Insert the experiment and its tags in one transaction.

    An invalid experiment (blank or duplicate name) is `AlreadyExists`; tags go in with
    `insert_all` (duplicates dropped, database limits only).
    """
    if not name.strip():
        raise AlreadyExists()
    with store.tx() as db:
        try:
            experiment = insert_experiment(db, project_id, name, user_id)
        except sqlite3.IntegrityError:
            raise AlreadyExists() from None
        insert_key_values(db, EXPERIMENT_TAGS, experiment["id"], tags)
    return experiment


def set_experiment_tag(store: Store, experiment_id: int, key: str, value: str) -> None:
    """`Ml::ExperimentMetadata.create!`: validations, a taken key included."""
    with store.tx() as db:
        taken = db.execute("SELECT 1 FROM experiment_tags WHERE experiment_id = ? AND key = ?",
                           (experiment_id, key)).fetchone() is not None
        validate_metadata(key, value, taken)
        db.execute("INSERT INTO experiment_tags (experiment_id, key, value) VALUES (?, ?, ?)",
                   (experiment_id, key, value))


def delete_experiment(store: Store, experiment: sqlite3.Row) -> None:
    """Hard delete with its runs and their data (GitLab's foreign keys cascade)."""
    if experiment["model_id"] is not None:
        raise Refused("Cannot delete an experiment associated to a model")
    with store.tx() as db:
        runs = "SELECT id FROM candidates WHERE experiment_id = ?"
        for table in ("candidate_params", "candidate_tags", "candidate_metrics"):
            db.execute(f"DELETE FROM {table} WHERE candidate_id IN ({runs})", (experiment["id"],))
        db.execute("DELETE FROM candidates WHERE experiment_id = ?", (experiment["id"],))
        db.execute("DELETE FROM experiment_tags WHERE experiment_id = ?", (experiment["id"],))
        db.execute("DELETE FROM experiments WHERE id = ?", (experiment["id"],))
