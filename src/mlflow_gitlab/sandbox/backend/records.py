"""Experiment and run records as GitLab's models and database check them.

GitLab checks MLflow records in two layers with different limits and messages:

- single writes (`set-tag`, `log-parameter`, ...) go through ActiveRecord validations, whose
  failures read `Validation failed: Name is too long (maximum is 250 characters)`;
- bulk writes (`log-batch`, tags of `runs/create` and `experiments/create`) use `insert_all`,
  which skips validations: duplicates are dropped (ON CONFLICT DO NOTHING, first or existing
  wins) and only the database's own limits apply, failing with a PostgreSQL message.

Both raise `Invalid` with GitLab's text.
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass
from typing import Any

from mlflow_gitlab.sandbox.backend.errors import Invalid

_LEADING_INT = re.compile(r"\s*([+-]?\d+)")


def ar_integer(value: Any) -> int | None:
    """How ActiveRecord casts a lookup value for an integer column: `"3abc"` -> 3, `"x"` -> None."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value)
    match = _LEADING_INT.match(str(value))
    return int(match.group(1)) if match else None


# --- single writes: ActiveRecord validations --------------------------------------------------


def too_long(label: str, value: str | None, limit: int) -> str | None:
    if value is not None and len(value) > limit:
        return f"{label} is too long (maximum is {limit} characters)"
    return None


def blank(label: str, value: str | None) -> str | None:
    return f"{label} can't be blank" if value is None or not value.strip() else None


def raise_invalid(errors: list[str | None]) -> None:
    """`create!` raising `RecordInvalid`: every failing validation, in declaration order."""
    messages = [e for e in errors if e]
    if messages:
        raise Invalid("Validation failed: " + ", ".join(messages))


def validate_metadata(key: str, value: str, taken: bool) -> None:
    """`Ml::CandidateMetadata` / `Ml::ExperimentMetadata`: key <= 250, value <= 5000, unique."""
    raise_invalid([
        too_long("Name", key, 250), blank("Name", key),
        f"Name '{key}' already taken" if taken else None,
        too_long("Value", value, 5000), blank("Value", value),
    ])


# --- bulk writes: insert_all against the database's constraints --------------------------------


@dataclass(frozen=True)
class Table:
    """A GitLab table behind a sandbox table: its name and text limits, for PG's messages."""

    sandbox: str
    parent: str  # the sandbox's parent-id column
    gitlab: str
    name_limit: int
    value_limit: int | None


EXPERIMENT_TAGS = Table("experiment_tags", "experiment_id", "ml_experiment_metadata", 255, 5000)
RUN_TAGS = Table("candidate_tags", "candidate_id", "ml_candidate_metadata", 255, 5000)
RUN_PARAMS = Table("candidate_params", "candidate_id", "ml_candidate_params", 250, 250)
RUN_METRICS = Table("candidate_metrics", "candidate_id", "ml_candidate_metrics", 250, None)


def pg_error(kind: str, detail: str) -> Invalid:
    """A database error as GitLab passes it on: PostgreSQL's message."""
    return Invalid(f"PG::{kind}: ERROR:  {detail}")


def check_row(table: Table, key: str | None, value: Any) -> None:
    """The NOT NULL and text-limit constraints of `table` for one row."""
    if key is None:
        raise pg_error("NotNullViolation", f'null value in column "name" of relation '
                                           f'"{table.gitlab}" violates not-null constraint')
    if table.value_limit is not None and value is None:
        raise pg_error("NotNullViolation", f'null value in column "value" of relation '
                                           f'"{table.gitlab}" violates not-null constraint')
    if len(key) > table.name_limit or (
            table.value_limit is not None and len(value) > table.value_limit):
        raise pg_error("CheckViolation", f'new row for relation "{table.gitlab}" violates '
                                         f"check constraint")


def insert_key_values(db: sqlite3.Connection, table: Table, parent_id: int,
                      items: list[tuple[str | None, str | None]]) -> None:
    """`insert_all` of (key, value) rows: all checked first, then duplicates silently dropped."""
    for key, value in items:
        check_row(table, key, value)
    db.executemany(
        f"INSERT INTO {table.sandbox} ({table.parent}, key, value) VALUES (?, ?, ?) "
        f"ON CONFLICT DO NOTHING",
        [(parent_id, key, value) for key, value in items])
