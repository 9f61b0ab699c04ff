"""The model registry's models, with GitLab's rules: `Ml::Model` and the metadata
validations of models and versions, cascading deletes (versions: `model_versions.py`).

A model comes with its `[model]<name>` experiment, which holds a run per version.
"""

from __future__ import annotations

import re
import sqlite3
from typing import Any

from mlflow_gitlab.sandbox.backend import models
from mlflow_gitlab.sandbox.backend.errors import AlreadyExists, Invalid, NotFound
from mlflow_gitlab.sandbox.backend.experiments import insert_experiment
from mlflow_gitlab.sandbox.backend.store import Store, now

MODEL_EXPERIMENT_PREFIX = "[model]"
NAME_MAX, VALUE_MAX, DESCRIPTION_MAX = 255, 5000, 10_000

# `ml_model_name_regex` of `lib/gitlab/regex.rb`. Ruby's atomic groups `(?>X)` are written
# `(?=(?P<g>X))(?P=g)`, which has the same no-backtracking meaning and also compiles on Python 3.10.
MODEL_NAME = re.compile(
    r"@?(?=(?P<head>(?:[\w.+-]*/)*[\w.-]+))(?P=head)"
    r"@?(?=(?P<tail>(?:[\w.+-]*/)*[\w.-]*))(?P=tail)", re.ASCII)

Tags = list[dict[str, Any]]


# --- models --------------------------------------------------------------------------------


def create_model(store: Store, project_id: int, name: str, description: Any, tags: Tags,
                 user_id: int | None) -> sqlite3.Row:
    """A model with its experiment and tags, all or nothing; any failure -> AlreadyExists
    (GitLab's MLflow route reports every one as RESOURCE_ALREADY_EXISTS)."""
    if not _valid_model(name, description):
        raise AlreadyExists()
    with store.tx() as db:
        try:
            t = now()
            cur = db.execute(
                "INSERT INTO models (project_id, name, description, user_id, created_at, "
                "updated_at) VALUES (?, ?, ?, ?, ?, ?)",
                (project_id, name, text_or_none(description), user_id, t, t))
            insert_experiment(db, project_id, MODEL_EXPERIMENT_PREFIX + name, user_id,
                              model_id=cur.lastrowid)
        except sqlite3.IntegrityError:  # the name or the experiment name is taken
            raise AlreadyExists() from None
        if insert_tags(db, "model_tags", "model_id", cur.lastrowid, tags) is not None:
            raise AlreadyExists()
        return db.execute("SELECT * FROM models WHERE id = ?", (cur.lastrowid,)).fetchone()


def _valid_model(name: str, description: Any) -> bool:
    """`Ml::Model` validations: name format and length, description length."""
    if not name or len(name) > NAME_MAX or MODEL_NAME.fullmatch(name) is None:
        return False
    return description is None or len(str(description)) <= DESCRIPTION_MAX


def set_model_description(store: Store, model: sqlite3.Row, description: Any) -> sqlite3.Row:
    """The model with its description set (None clears it); too long -> Invalid, as
    `update!` fails."""
    if description is not None and len(str(description)) > DESCRIPTION_MAX:
        raise Invalid("Validation failed: Description is too long "
                      f"(maximum is {DESCRIPTION_MAX} characters)")
    with store.tx() as db:
        db.execute("UPDATE models SET description = ?, updated_at = ? WHERE id = ?",
                   (text_or_none(description), now(), model["id"]))
        return db.execute("SELECT * FROM models WHERE id = ?", (model["id"],)).fetchone()


def delete_model(store: Store, model: sqlite3.Row) -> None:
    """Remove the model, its versions with their packages, its experiment with its runs."""
    model_id = model["id"]
    versions = "SELECT id FROM model_versions WHERE model_id = ?"
    owned = "SELECT package_id FROM model_versions WHERE model_id = ?"
    experiments = "SELECT id FROM experiments WHERE model_id = ?"
    candidates = f"SELECT id FROM candidates WHERE experiment_id IN ({experiments})"
    with store.tx() as db:
        blobs = [r[0] for r in db.execute(
            f"SELECT blob FROM package_files WHERE package_id IN ({owned})", (model_id,))]
        for sql in (f"DELETE FROM package_files WHERE package_id IN ({owned})",
                    f"DELETE FROM packages WHERE id IN ({owned})",
                    f"DELETE FROM model_version_tags WHERE model_version_id IN ({versions})",
                    "DELETE FROM model_versions WHERE model_id = ?",
                    "DELETE FROM model_tags WHERE model_id = ?",
                    *(f"DELETE FROM {table} WHERE candidate_id IN ({candidates})"
                      for table in ("candidate_params", "candidate_tags", "candidate_metrics")),
                    f"DELETE FROM candidates WHERE experiment_id IN ({experiments})",
                    f"DELETE FROM experiment_tags WHERE experiment_id IN ({experiments})",
                    "DELETE FROM experiments WHERE model_id = ?",
                    "DELETE FROM models WHERE id = ?"):
            db.execute(sql, (model_id,))
    for blob in blobs:  # bytes go only once the rows are gone for good
        store.blob_path(blob).unlink(missing_ok=True)


def find_model(store: Store, project_id: int, name: Any) -> sqlite3.Row:
    """`Ml::FindModelService` by name; none -> NotFound."""
    if name is None:
        raise NotFound()
    return models.find_model_by_name(store, project_id, str(name))


# --- metadata (Ml::ModelMetadata / Ml::ModelVersionMetadata) -------------------------------


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def metadata_errors(key: Any, value: Any, taken: set[str]) -> list[str]:
    """Rails' full messages for one tag, in validation order (name, then value)."""
    errors = []
    if isinstance(key, str) and len(key) > NAME_MAX:
        errors.append(f"Name is too long (maximum is {NAME_MAX} characters)")
    if _blank(key):
        errors.append("Name can't be blank")
    elif str(key) in taken:
        errors.append(f"Name '{key}' already taken")
    if isinstance(value, str) and len(value) > VALUE_MAX:
        errors.append(f"Value is too long (maximum is {VALUE_MAX} characters)")
    if _blank(value):
        errors.append("Value can't be blank")
    return errors


def insert_tags(db: sqlite3.Connection, table: str, owner_column: str, owner_id: int,
                tags: Tags) -> str | None:
    """Insert tags one by one as `metadata.create!` does; the first failure's message or None."""
    taken: set[str] = set()
    for tag in tags:
        key, value = tag.get("key"), tag.get("value")
        errors = metadata_errors(key, value, taken)
        if errors:
            return "Validation failed: " + ", ".join(errors)
        taken.add(str(key))
        db.execute(f"INSERT INTO {table} ({owner_column}, key, value) VALUES (?, ?, ?)",
                   (owner_id, str(key), str(value)))
    return None


def text_or_none(value: Any) -> str | None:
    return None if value is None else str(value)
