"""Model versions: GitLab's `Ml::ModelVersion` behind MLflow's `model-versions/*`.

The id-vs-semver quirk lives here: responses carry the global database id in `version` and
the semver in `aliases[0]`; `get`/`update` look a version up by semver, `get-download-uri`
by id.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from mlflow_gitlab.sandbox import web
from mlflow_gitlab.sandbox.api import ml_common as mc
from mlflow_gitlab.sandbox.api import ml_registry as reg
from mlflow_gitlab.sandbox.api.package_files import find_or_create_package
from mlflow_gitlab.sandbox.backend import models
from mlflow_gitlab.sandbox.backend.candidates import insert_candidate
from mlflow_gitlab.sandbox.backend.store import now
from mlflow_gitlab.sandbox.router import Router

GITLAB_TAG_PREFIX = "gitlab."


def register(router: Router) -> None:
    """Register the model-version endpoints."""
    router.mlflow("POST", "model-versions/create")(create)
    router.mlflow("GET", "model-versions/get")(get)
    router.mlflow("PATCH", "model-versions/update")(update)
    router.mlflow("GET", "model-versions/get-download-uri")(get_download_uri)


def _version_response(req: web.Request, row: sqlite3.Row) -> web.Response:
    model = req.app.store.one("SELECT * FROM models WHERE id = ?", row["model_id"])
    return web.Response(200, {"model_version": reg.model_version_json(req, row, model)})


def _failed(*messages: str) -> web.ApiError:
    """A `CreateModelVersionService` error: INVALID_PARAMETER_VALUE with a message *array*."""
    return web.invalid_parameter(list(messages))


# --- create --------------------------------------------------------------------------------


def create(req: web.Request) -> web.Response:
    """Create a version (numbered by its semver, as `Ml::CreateModelVersionService` does)
    with its run and `ml_model` package; all or nothing."""
    mc.require_read(req)
    mc.require_write(req)
    model = reg.find_model(req, req.params.get("name"))
    tags = reg.tag_list(req)
    description = req.params.get("description")
    run_id = req.params.get("run_id")
    with req.app.store.tx() as db:
        version = _custom_version(tags)
        if version is None:
            version = _next_version(db, model["id"])
        if not models.is_semver(version):
            raise _failed("Version must be semantic version")
        errors = _validation_errors(db, model["id"], version, description)
        if errors:
            raise _failed(*errors)
        mv_id = _insert_version(db, model, version, description, req)
        if run_id is not None:
            package_id = _promote(db, model, str(run_id), mv_id, version)
        else:
            _new_candidate(db, model, mv_id, req)
            package_id = None
        if package_id is None:
            package_id = find_or_create_package(db, model["project_id"], "ml_model",
                                                model["name"], version)["id"]
        db.execute("UPDATE model_versions SET package_id = ? WHERE id = ?", (package_id, mv_id))
        failure = reg.insert_tags(db, "model_version_tags", "model_version_id", mv_id, tags)
        if failure is not None:
            raise _failed(failure)
        row = db.execute("SELECT * FROM model_versions WHERE id = ?", (mv_id,)).fetchone()
    return _version_response(req, row)


def _custom_version(tags: list[dict[str, Any]]) -> str | None:
    """`gitlab_tags['version']`: the last `gitlab.version` tag sets the semver."""
    version = None
    for tag in tags:
        key = tag.get("key")
        if isinstance(key, str) and key == GITLAB_TAG_PREFIX + "version":
            version = tag.get("value")
    return None if version is None else str(version)


def _next_version(db: sqlite3.Connection, model_id: int) -> str:
    """No versions -> 1.0.0; else a patch bump of the highest semver."""
    rows = db.execute("SELECT id, version FROM model_versions WHERE model_id = ?",
                      (model_id,)).fetchall()
    latest = models.latest_version(rows)
    return reg.INITIAL_VERSION if latest is None else reg.bump_patch(latest["version"])


def _validation_errors(db: sqlite3.Connection, model_id: int, version: str,
                       description: Any) -> list[str]:
    """`Ml::ModelVersion` validations, in Rails' order, as full messages."""
    errors = []
    taken = db.execute("SELECT 1 FROM model_versions WHERE model_id = ? AND version = ?",
                       (model_id, version)).fetchone()
    if taken:
        errors.append("Version has already been taken")
    if len(version) > reg.NAME_MAX:
        errors.append(f"Version is too long (maximum is {reg.NAME_MAX} characters)")
    if description is not None and len(str(description)) > reg.DESCRIPTION_MAX:
        errors.append(f"Description is too long (maximum is {reg.DESCRIPTION_MAX} characters)")
    return errors


def _insert_version(db: sqlite3.Connection, model: sqlite3.Row, version: str, description: Any,
                    req: web.Request) -> int:
    """One row from the instance-wide id sequence (AUTOINCREMENT never reuses an id)."""
    t = now()
    cur = db.execute(
        "INSERT INTO model_versions (project_id, model_id, version, description, user_id, "
        "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (model["project_id"], model["id"], version,
         None if description is None else str(description),
         req.principal.user_id if req.principal else None, t, t))
    return int(cur.lastrowid)


def _new_candidate(db: sqlite3.Connection, model: sqlite3.Row, mv_id: int,
                   req: web.Request) -> None:
    """Each version gets a run in the model's `[model]<name>` experiment."""
    experiment = db.execute("SELECT id FROM experiments WHERE model_id = ?",
                            (model["id"],)).fetchone()
    if experiment is None:  # GitLab reports a failed candidate creation with this text
        raise _failed("Version must be semantic version")
    candidate = insert_candidate(
        db, model["project_id"], experiment["id"], name=None, start_time=None,
        user_id=req.principal.user_id if req.principal else None)
    _link(db, candidate["id"], mv_id)


def _promote(db: sqlite3.Connection, model: sqlite3.Row, run_id: str, mv_id: int,
             version: str) -> int | None:
    """Promote an existing run of the model's experiment; its package becomes the version's."""
    candidate = db.execute(
        "SELECT c.id, c.model_version_id, c.package_id, e.model_id FROM candidates c "
        "JOIN experiments e ON e.id = c.experiment_id WHERE c.project_id = ? AND c.eid = ?",
        (model["project_id"], run_id)).fetchone()
    if candidate is None:
        raise _failed("Run not found")
    if candidate["model_version_id"] is not None:
        raise _failed("Run has already a model version")
    if candidate["model_id"] != model["id"]:
        raise _failed("Run's experiment does not belong to this model")
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


# --- read and update -----------------------------------------------------------------------


def get(req: web.Request) -> web.Response:
    """By model name and **semver**: `get_model_version(name, mv.version)` (the id) -> 404."""
    mc.require_read(req)
    name, version = mc.required(req, "name", "version")
    row = reg.find_version(req, name, version)
    if row is None:
        raise web.not_found_mlflow()
    return _version_response(req, row)


def update(req: web.Request) -> web.Response:
    """Set the description of the version `name`/`semver`; not found -> UPDATE_FAILED."""
    mc.require_read(req)
    mc.require_write(req)
    name, version, description = (req.params.get(k) for k in ("name", "version", "description"))
    if name is None or version is None or description is None:
        raise web.invalid_parameter(None)
    row = reg.find_version(req, name, version)
    if row is None or len(str(description)) > reg.DESCRIPTION_MAX:
        raise web.mlflow_error("UPDATE_FAILED")
    with req.app.store.tx() as db:
        db.execute("UPDATE model_versions SET description = ?, updated_at = ? WHERE id = ?",
                   (str(description), now(), row["id"]))
        row = db.execute("SELECT * FROM model_versions WHERE id = ?", (row["id"],)).fetchone()
    return _version_response(req, row)


def get_download_uri(req: web.Request) -> web.Response:
    """`mlflow-artifacts:/<id>` for the **id** in `version`; nothing is looked up."""
    mc.require_read(req)
    errors = []
    if req.params.get("name") is None:
        errors.append("name is missing")
    version: int | None = None
    if req.params.get("version") is None:
        errors.append("version is missing")
    else:
        try:
            version = mc.integer(req, "version")
        except web.ApiError:
            errors.append("version is invalid")
    if errors:
        raise web.grape_error(", ".join(errors))
    return web.Response(200, {"artifact_uri": f"mlflow-artifacts:/{version}"})
