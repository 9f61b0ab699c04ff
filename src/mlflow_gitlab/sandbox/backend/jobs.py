"""CI jobs (GitLab: `Ci::Build`): lookups, listings by status, staging and status moves.

Each staged job gets a job token (`glcbt-...`), live only while the job is `running`.
"""

from __future__ import annotations

import secrets
import sqlite3

from mlflow_gitlab.sandbox.backend.errors import NotFound
from mlflow_gitlab.sandbox.backend.pipelines import times
from mlflow_gitlab.sandbox.backend.store import Store, now


def list_jobs(store: Store, *, project_id: int | None = None, pipeline_id: int | None = None,
              statuses: list[str] | None = None) -> list[sqlite3.Row]:
    """Jobs of a project or of a pipeline (one of the two), optionally by status, newest first."""
    column, value = ("pipeline_id", pipeline_id) if pipeline_id is not None else (
        "project_id", project_id)
    sql, args = f"SELECT * FROM jobs WHERE {column} = ?", [value]
    if statuses:
        sql += f" AND status IN ({', '.join('?' * len(statuses))})"
        args.extend(statuses)
    return store.all(sql + " ORDER BY id DESC", *args)


def find_job(store: Store, project_id: int, job_id: int) -> sqlite3.Row | None:
    """A job of the project by id."""
    return store.one("SELECT * FROM jobs WHERE id = ? AND project_id = ?", job_id, project_id)


def get_job(store: Store, job_id: int) -> sqlite3.Row | None:
    """A job by id, on any project."""
    return store.one("SELECT * FROM jobs WHERE id = ?", job_id)


def newest_job_ids(store: Store, count: int) -> list[int]:
    """The ids of the `count` newest jobs, on any project, newest first."""
    return [row["id"] for row in store.all("SELECT id FROM jobs ORDER BY id DESC LIMIT ?",
                                           count)]


def insert_job(db: sqlite3.Connection, project_id: int, pipeline_id: int, *,
               job_id: int | None, name: str, stage: str, status: str, ref: str,
               allow_failure: bool, user_id: int) -> tuple[int, str]:
    """A new job of the pipeline and its job token: (id, token)."""
    t = now()
    cur = db.execute(
        "INSERT INTO jobs (id, project_id, pipeline_id, name, stage, status, ref, "
        "allow_failure, user_id, created_at, started_at, finished_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (job_id, project_id, pipeline_id, name, stage, status, ref, int(allow_failure),
         user_id, t, *times(status, t)))
    new_id = int(cur.lastrowid)
    token = "glcbt-" + secrets.token_urlsafe(20)
    db.execute("INSERT INTO tokens (value, user_id, kind, job_id, label) "
               "VALUES (?, ?, 'job', ?, ?)", (token, user_id, new_id, name))
    return new_id, token


def id_taken(db: sqlite3.Connection, table: str, row_id: int) -> bool:
    """Whether `pipelines` or `jobs` already has `row_id`."""
    return db.execute(f"SELECT 1 FROM {table} WHERE id = ?", (row_id,)).fetchone() is not None


def set_status(store: Store, table: str, row_id: int, status: str) -> None:
    """Move a pipeline or job (`table`) to `status`, stamping started/finished times as
    GitLab does; its pipeline's `updated_at` moves too. Missing -> NotFound."""
    t = now()
    with store.tx() as db:
        row = db.execute(f"SELECT * FROM {table} WHERE id = ?", (row_id,)).fetchone()
        if row is None:
            raise NotFound()
        started, finished = times(status, t)
        started = row["started_at"] or started
        db.execute(f"UPDATE {table} SET status = ?, started_at = ?, finished_at = ? "
                   "WHERE id = ?", (status, started, finished, row_id))
        pipeline_id = row_id if table == "pipelines" else row["pipeline_id"]
        db.execute("UPDATE pipelines SET updated_at = ? WHERE id = ?", (t, pipeline_id))
