"""Model versions, with GitLab's rules: `Ml::ModelVersion` validations,
`Ml::CreateModelVersionService` numbering and promotion of a run.

A version gets a run in its model's `[model]<name>` experiment (or promotes an existing one)
and an `ml_model` package named after the model, or takes over the package of the run it
promotes.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from mlflow_gitlab.sandbox.backend import models, packages
from mlflow_gitlab.sandbox.backend.candidates import insert_candidate
from mlflow_gitlab.sandbox.backend.errors import Invalid
from mlflow_gitlab.sandbox.backend.model_registry import (
    DESCRIPTION_MAX,
    NAME_MAX,
    Tags,
    insert_tags,
    text_or_none,
)
from mlflow_gitlab.sandbox.backend.store import Store, now

INITIAL_VERSION = "1.0.0"
VERSION_TAG = "gitlab.version"  # sets a new version's semver


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
            (model["project_id"], model["id"], version, text_or_none(description), user_id, t,
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


