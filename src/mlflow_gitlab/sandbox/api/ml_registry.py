"""The model registry's shared pieces: semver rules, model/version lookups and their entities.

Used by the registered-model and model-version endpoints (and the artifact routes); it
registers no routes itself.
"""

from __future__ import annotations

import re
import sqlite3
from typing import Any

from mlflow_gitlab.sandbox import web
from mlflow_gitlab.sandbox.api.ml_common import key_values
from mlflow_gitlab.sandbox.backend.models import SEMVER
from mlflow_gitlab.sandbox.backend.store import Store

MODEL_EXPERIMENT_PREFIX = "[model]"
INITIAL_VERSION = "1.0.0"
NAME_MAX, VALUE_MAX, DESCRIPTION_MAX = 255, 5000, 10_000

# `ml_model_name_regex` of `lib/gitlab/regex.rb`. Ruby's atomic groups `(?>X)` are written
# `(?=(?P<g>X))(?P=g)`, which has the same no-backtracking meaning and also compiles on Python 3.10.
MODEL_NAME = re.compile(
    r"@?(?=(?P<head>(?:[\w.+-]*/)*[\w.-]+))(?P=head)"
    r"@?(?=(?P<tail>(?:[\w.+-]*/)*[\w.-]*))(?P=tail)", re.ASCII)


# --- versions ----------------------------------------------------------------------------


def bump_patch(version: str) -> str:
    """`Ml::IncrementVersionService` with a patch increment (`1.2.3` -> `1.2.4`)."""
    m = SEMVER.fullmatch(version)
    if m is None:
        return INITIAL_VERSION
    bumped = f"{m[1]}.{m[2]}.{int(m[3]) + 1}"
    return bumped + (f"-{m[4]}" if m[4] else "") + (f"+{m[5]}" if m[5] else "")


def versions_of(store: Store, model_id: int) -> list[sqlite3.Row]:
    return store.all("SELECT * FROM model_versions WHERE model_id = ? ORDER BY id", model_id)


# --- lookups -------------------------------------------------------------------------------


def find_model(req: web.Request, name: Any) -> sqlite3.Row:
    """`Ml::FindModelService` by name, or 404 RESOURCE_DOES_NOT_EXIST."""
    row = None
    if name is not None:
        row = req.app.store.one("SELECT * FROM models WHERE project_id = ? AND name = ?",
                                req.project["id"], str(name))
    if row is None:
        raise web.not_found_mlflow()
    return row


def find_version(req: web.Request, name: Any, version: Any) -> sqlite3.Row | None:
    """A version by model name and **semver** (`by_project_id_name_and_version`)."""
    if name is None or version is None:
        return None
    return req.app.store.one(
        "SELECT v.* FROM model_versions v JOIN models m ON m.id = v.model_id "
        "WHERE m.project_id = ? AND m.name = ? AND v.project_id = ? AND v.version = ?",
        req.project["id"], str(name), req.project["id"], str(version))


# --- metadata validation (Ml::ModelMetadata / Ml::ModelVersionMetadata) ---------------------


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


def tag_list(req: web.Request) -> list[dict[str, Any]]:
    """The `tags` param (Grape `type: Array`); anything else -> 400 `tags is invalid`."""
    tags = req.params.get("tags")
    if tags is None:
        return []
    if not isinstance(tags, list):
        raise web.grape_error("tags is invalid")
    return [t if isinstance(t, dict) else {} for t in tags]


def insert_tags(db: sqlite3.Connection, table: str, owner_column: str, owner_id: int,
                tags: list[dict[str, Any]]) -> str | None:
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


# --- entities ------------------------------------------------------------------------------


def model_version_json(req: web.Request, row: sqlite3.Row, model: sqlite3.Row) -> dict[str, Any]:
    """The ModelVersion entity: `version` is the global id, the semver is in `aliases`."""
    store = req.app.store
    candidate = store.one("SELECT eid FROM candidates WHERE model_version_id = ?", row["id"])
    tags = store.all("SELECT key, value FROM model_version_tags WHERE model_version_id = ? "
                     "ORDER BY id", row["id"])
    project = req.project
    source = f"{req.base_url}/{project['path']}/-/ml/models/{model['id']}/versions/{row['id']}"
    return {
        "name": model["name"],
        "version": str(row["id"]),
        "creation_timestamp": int(row["created_at"]),  # seconds, not ms
        "last_updated_timestamp": int(row["updated_at"]),
        "user_id": None,
        "current_stage": "development",
        "description": row["description"] or "",
        "source": source,
        "run_id": candidate["eid"] if candidate else None,
        "status": "READY",
        "status_message": "",
        "tags": key_values(tags),
        "run_link": "",
        "aliases": [row["version"]],
    }


def registered_model_json(req: web.Request, model: sqlite3.Row) -> dict[str, Any]:
    """The RegisteredModel entity; `latest_versions` lists **all** versions."""
    store = req.app.store
    tags = store.all("SELECT key, value FROM model_tags WHERE model_id = ? ORDER BY id",
                     model["id"])
    return {
        "name": model["name"],
        "creation_timestamp": int(model["created_at"]),
        "last_updated_timestamp": int(model["updated_at"]),
        "description": model["description"] or "",
        "user_id": "" if model["user_id"] is None else str(model["user_id"]),
        "tags": key_values(tags),
        "latest_versions": [model_version_json(req, v, model)
                            for v in versions_of(store, model["id"])],
    }
