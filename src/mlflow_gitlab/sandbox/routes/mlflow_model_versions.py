"""Model versions: GitLab's `Ml::ModelVersion` behind MLflow's `model-versions/*`.

The id-vs-semver quirk lives here: responses carry the global database id in `version` and
the semver in `aliases[0]`; `get`/`update` look a version up by semver, `get-download-uri`
by id.
"""

from __future__ import annotations

import sqlite3

from mlflow_gitlab.sandbox import web
from mlflow_gitlab.sandbox.backend import model_registry, model_versions, models
from mlflow_gitlab.sandbox.router import Router
from mlflow_gitlab.sandbox.routes import ml_common as mc
from mlflow_gitlab.sandbox.routes import ml_registry as reg


def register(router: Router) -> None:
    """Register the model-version endpoints."""
    router.mlflow("POST", "model-versions/create")(create)
    router.mlflow("GET", "model-versions/get")(get)
    router.mlflow("PATCH", "model-versions/update")(update)
    router.mlflow("GET", "model-versions/get-download-uri")(get_download_uri)


def _version_response(req: web.Request, row: sqlite3.Row) -> web.Response:
    model = models.get_model(req.app.store, row["model_id"])
    return web.Response(200, {"model_version": reg.model_version_json(req, row, model)})


def create(req: web.Request) -> web.Response:
    """Create a version (numbered by its semver, as `Ml::CreateModelVersionService` does)
    with its run and `ml_model` package; all or nothing. A refusal is INVALID_PARAMETER_VALUE
    with a message *array*."""
    mc.require_read(req)
    mc.require_write(req)
    model = reg.find_model(req, req.params.get("name"))
    row = model_versions.create_version(
        req.app.store, model, description=req.params.get("description"),
        run_id=req.params.get("run_id"), tags=reg.tag_list(req),
        user_id=req.principal.user_id if req.principal else None)
    return _version_response(req, row)


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
    if row is None or len(str(description)) > model_registry.DESCRIPTION_MAX:
        raise web.mlflow_error("UPDATE_FAILED")
    return _version_response(
        req, model_versions.set_version_description(req.app.store, row, str(description)))


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
