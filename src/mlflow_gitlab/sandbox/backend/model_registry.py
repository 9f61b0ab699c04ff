"""The model registry's writes, with GitLab's rules: `Ml::Model`, `Ml::ModelVersion` and their
metadata validations, `Ml::CreateModelVersionService` numbering, cascading deletes.

A model comes with its `[model]<name>` experiment, which holds a run per version; a version
gets an `ml_model` package named after the model, or takes over the package of the run it
promotes.
"""

from __future__ import annotations

import re
import sqlite3
from typing import Any

from mlflow_gitlab.sandbox.backend import models, packages
from mlflow_gitlab.sandbox.backend.candidates import insert_candidate
from mlflow_gitlab.sandbox.backend.errors import AlreadyExists, Invalid, NotFound
from mlflow_gitlab.sandbox.backend.experiments import insert_experiment
from mlflow_gitlab.sandbox.backend.store import Store, now

MODEL_EXPERIMENT_PREFIX = "[model]"
INITIAL_VERSION = "1.0.0"
NAME_MAX, VALUE_MAX, DESCRIPTION_MAX = 255, 5000, 10_000
VERSION_TAG = "gitlab.version"  # sets a new version's semver

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
                (project_id, name, _text(description), user_id, t, t))
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
                   (_text(description), now(), model["id"]))
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


# --- versions ------------------------------------------------------------------------------


def bump_patch(version: str) -> str:
    """`Ml::IncrementVersionService` with a patch increment (`1.2.3` -> `1.2.4`)."""
    m = models.SEMVER.fullmatch(version)
    if m is None:
        return INITIAL_VERSION
    bumped = f"{m[1]}.{m[2]}.{int(m[3]) + 1}"
    return bumped + (f"-{m[4]}" if m[4] else "") + (f"+{m[5]}" if m[5] else "")


def create_version(store: Store, model: sqlite3.Row, *, description: Any, run_id: Any,
                   tags: Tags, user_id: int | None) -> sqlite3.Row:
    """A version numbered by its `gitlab.version` tag (else a patch bump of the highest), with
    its run (the promoted `run_id`, or a new one) and package; all or nothing.

    Raises:
        Invalid: with `CreateModelVersionService`'s message list.
    """
    with store.tx() as db:
        version = _custom_version(tags)
        if version is None:
            version = _next_version(db, model["id"])
        if not models.is_semver(version):
            raise Invalid(["Version must be semantic version"])
        errors = _validation_errors(db, model["id"], version, description)
        if errors:
            raise Invalid(errors)
        t = now()
        mv_id = int(db.execute(  # the instance-wide sequence: AUTOINCREMENT never reuses ids
            "INSERT INTO model_versions (project_id, model_id, version, description, user_id, "
            "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (model["project_id"], model["id"], version, _text(description), user_id, t,
             t)).lastrowid)
        if run_id is not None:
            package_id = _promote(db, model, str(run_id), mv_id, version)
        else:
            _new_candidate(db, model, mv_id, user_id)
            package_id = None
        if package_id is None:
            package_id = packages.find_or_create(db, model["project_id"], "ml_model",
                                                 model["name"], version)["id"]
        db.execute("UPDATE model_versions SET package_id = ? WHERE id = ?", (package_id, mv_id))
        failure = insert_tags(db, "model_version_tags", "model_version_id", mv_id, tags)
        if failure is not None:
            raise Invalid([failure])
        return db.execute("SELECT * FROM model_versions WHERE id = ?", (mv_id,)).fetchone()


def set_version_description(store: Store, row: sqlite3.Row, description: str) -> sqlite3.Row:
    """The version with its description set."""
    with store.tx() as db:
        db.execute("UPDATE model_versions SET description = ?, updated_at = ? WHERE id = ?",
                   (description, now(), row["id"]))
        return db.execute("SELECT * FROM model_versions WHERE id = ?", (row["id"],)).fetchone()


def find_version(store: Store, project_id: int, name: Any, version: Any) -> sqlite3.Row | None:
    """A version by model name and **semver** (`by_project_id_name_and_version`)."""
    if name is None or version is None:
        return None
    return store.one(
        "SELECT v.* FROM model_versions v JOIN models m ON m.id = v.model_id "
        "WHERE m.project_id = ? AND m.name = ? AND v.project_id = ? AND v.version = ?",
        project_id, str(name), project_id, str(version))


def find_model(store: Store, project_id: int, name: Any) -> sqlite3.Row:
    """`Ml::FindModelService` by name; none -> NotFound."""
    if name is None:
        raise NotFound()
    return models.find_model_by_name(store, project_id, str(name))


def _custom_version(tags: Tags) -> str | None:
    """`gitlab_tags['version']`: the last `gitlab.version` tag sets the semver."""
    version = None
    for tag in tags:
        if tag.get("key") == VERSION_TAG:
            version = tag.get("value")
    return None if version is None else str(version)


def _next_version(db: sqlite3.Connection, model_id: int) -> str:
    """No versions -> 1.0.0; else a patch bump of the highest semver."""
    rows = db.execute("SELECT id, version FROM model_versions WHERE model_id = ?",
                      (model_id,)).fetchall()
    latest = models.latest_version(rows)
    return INITIAL_VERSION if latest is None else bump_patch(latest["version"])


def _validation_errors(db: sqlite3.Connection, model_id: int, version: str,
                       description: Any) -> list[str]:
    """`Ml::ModelVersion` validations, in Rails' order, as full messages."""
    errors = []
    if db.execute("SELECT 1 FROM model_versions WHERE model_id = ? AND version = ?",
                  (model_id, version)).fetchone():
        errors.append("Version has already been taken")
    if len(version) > NAME_MAX:
        errors.append(f"Version is too long (maximum is {NAME_MAX} characters)")
    if description is not None and len(str(description)) > DESCRIPTION_MAX:
        errors.append(f"Description is too long (maximum is {DESCRIPTION_MAX} characters)")
    return errors


def _new_candidate(db: sqlite3.Connection, model: sqlite3.Row, mv_id: int,
                   user_id: int | None) -> None:
    """Each version gets a run in the model's `[model]<name>` experiment."""
    experiment = db.execute("SELECT id FROM experiments WHERE model_id = ?",
                            (model["id"],)).fetchone()
    if experiment is None:  # GitLab reports a failed candidate creation with this text
        raise Invalid(["Version must be semantic version"])
    candidate = insert_candidate(db, model["project_id"], experiment["id"], name=None,
                                 start_time=None, user_id=user_id)
    _link(db, candidate["id"], mv_id)


def _promote(db: sqlite3.Connection, model: sqlite3.Row, run_id: str, mv_id: int,
             version: str) -> int | None:
    """Promote an existing run of the model's experiment; its package becomes the version's."""
    candidate = db.execute(
        "SELECT c.id, c.model_version_id, c.package_id, e.model_id FROM candidates c "
        "JOIN experiments e ON e.id = c.experiment_id WHERE c.project_id = ? AND c.eid = ?",
        (model["project_id"], run_id)).fetchone()
    if candidate is None:
        raise Invalid(["Run not found"])
    if candidate["model_version_id"] is not None:
        raise Invalid(["Run has already a model version"])
    if candidate["model_id"] != model["id"]:
        raise Invalid(["Run's experiment does not belong to this model"])
    _link(db, candidate["id"], mv_id)
    if candidate["package_id"] is None:
        return None
    db.execute("UPDATE packages SET name = ?, version = ?, updated_at = ? WHERE id = ?",
               (model["name"], version, now(), candidate["package_id"]))
    return int(candidate["package_id"])


def _link(db: sqlite3.Connection, candidate_id: int, mv_id: int) -> None:
    """Both directions: runs render `artifact_uri` from `candidates.model_version_id`."""
    db.execute("UPDATE candidates SET model_version_id = ? WHERE id = ?", (mv_id, candidate_id))
    db.execute("UPDATE model_versions SET candidate_id = ? WHERE id = ?", (candidate_id, mv_id))


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


def _text(value: Any) -> str | None:
    return None if value is None else str(value)
