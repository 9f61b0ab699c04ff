"""The model registry's MLflow entities, and the lookups and parameters its endpoints share.

Used by the registered-model and model-version endpoints; GitLab's rules for them are in
`backend/model_registry.py` and `backend/model_versions.py`. It registers no routes itself.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from mlflow_gitlab.sandbox import web
from mlflow_gitlab.sandbox.backend import model_registry, model_versions, models
from mlflow_gitlab.sandbox.routes.ml_common import key_values


def find_model(req: web.Request, name: Any) -> sqlite3.Row:
    """`Ml::FindModelService` by name, or 404 RESOURCE_DOES_NOT_EXIST."""
    return model_registry.find_model(req.app.store, req.project["id"], name)


def find_version(req: web.Request, name: Any, version: Any) -> sqlite3.Row | None:
    """A version of this project by model name and **semver**."""
    return model_versions.find_version(req.app.store, req.project["id"], name, version)


def tag_list(req: web.Request) -> list[dict[str, Any]]:
    """The `tags` param (Grape `type: Array`); anything else -> 400 `tags is invalid`."""
    tags = req.params.get("tags")
    if tags is None:
        return []
    if not isinstance(tags, list):
        raise web.grape_error("tags is invalid")
    return [t if isinstance(t, dict) else {} for t in tags]


# --- entities ------------------------------------------------------------------------------


def model_version_json(req: web.Request, row: sqlite3.Row, model: sqlite3.Row) -> dict[str, Any]:
    """The ModelVersion entity: `version` is the global id, the semver is in `aliases`."""
    store = req.app.store
    candidate = models.candidate_of_version(store, row["id"])
    tags = models.model_version_tags(store, row["id"])
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
    tags = models.model_tags(store, model["id"])
    return {
        "name": model["name"],
        "creation_timestamp": int(model["created_at"]),
        "last_updated_timestamp": int(model["updated_at"]),
        "description": model["description"] or "",
        "user_id": "" if model["user_id"] is None else str(model["user_id"]),
        "tags": key_values(tags),
        "latest_versions": [model_version_json(req, v, model)
                            for v in models.versions_in_order(store, model["id"])],
    }
