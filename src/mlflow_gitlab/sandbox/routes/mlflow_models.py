"""Registered models: GitLab's `Ml::Model` behind MLflow's `registered-models/*`."""

from __future__ import annotations

import re
import sqlite3
from typing import Any

from mlflow_gitlab.sandbox import web
from mlflow_gitlab.sandbox.backend import model_registry, models
from mlflow_gitlab.sandbox.router import Router
from mlflow_gitlab.sandbox.routes import ml_common as mc
from mlflow_gitlab.sandbox.routes import ml_registry as reg

_ORDER_COLUMNS = ("name", "created_at", "updated_at", "id")
_OUTER_QUOTES = re.compile(r"^(\"|')|(\"|')?$")  # GitLab's OUTER_QUOTES_REGEXP


def register(router: Router) -> None:
    """Register the registered-model endpoints."""
    router.mlflow("POST", "registered-models/create")(create)
    router.mlflow("GET", "registered-models/get")(get)
    router.mlflow("PATCH", "registered-models/update")(update)
    router.mlflow("POST", "registered-models/get-latest-versions")(get_latest_versions)
    router.mlflow("DELETE", "registered-models/delete")(delete)
    router.mlflow("GET", "registered-models/search")(search)
    router.mlflow("GET", "registered-models/alias")(get_by_alias)


def _model_response(req: web.Request, model: sqlite3.Row) -> web.Response:
    return web.Response(200, {"registered_model": reg.registered_model_json(req, model)})


# --- create --------------------------------------------------------------------------------


def create(req: web.Request) -> web.Response:
    """Create a model and its `[model]<name>` experiment; any failure -> RESOURCE_ALREADY_EXISTS."""
    mc.require_read(req)
    mc.require_write(req)
    (name,) = mc.required(req, "name")
    model = model_registry.create_model(
        req.app.store, req.project["id"], str(name), req.params.get("description"),
        reg.tag_list(req), req.principal.user_id if req.principal else None)
    return _model_response(req, model)


# --- read and update -----------------------------------------------------------------------


def get(req: web.Request) -> web.Response:
    mc.require_read(req)
    return _model_response(req, reg.find_model(req, req.params.get("name")))


def update(req: web.Request) -> web.Response:
    """Set the description (absent -> cleared, as `update!(description: nil)` does)."""
    mc.require_read(req)
    mc.require_write(req)
    model = reg.find_model(req, req.params.get("name"))
    # `update!` raises inside an MLflow route: rescue_from ActiveRecordError.
    model = model_registry.set_model_description(req.app.store, model,
                                                 req.params.get("description"))
    return _model_response(req, model)


def get_latest_versions(req: web.Request) -> web.Response:
    """Exactly one version, the highest semver (`stages` ignored); none yet -> `[null]`:
    GitLab presents `[model.latest_version]` (`lib/api/ml/mlflow/registered_models.rb`),
    and Grape's entity of nil is null."""
    mc.require_read(req)
    model = reg.find_model(req, req.params.get("name"))
    latest = models.latest_version(models.versions_in_order(req.app.store, model["id"]))
    version = reg.model_version_json(req, latest, model) if latest is not None else None
    return web.Response(200, {"model_versions": [version]})


def get_by_alias(req: web.Request) -> web.Response:
    """GitLab's only alias is the semver itself (`models:/<name>@1.2.3`)."""
    mc.require_read(req)
    name = req.params.get("name")
    version = reg.find_version(req, name, req.params.get("alias"))
    if version is None:
        raise web.not_found_mlflow()
    model = reg.find_model(req, name)
    return web.Response(200, {"model_version": reg.model_version_json(req, version, model)})


# --- delete --------------------------------------------------------------------------------


def delete(req: web.Request) -> web.Response:
    """Destroy the model with its versions, their packages and its experiment's runs."""
    mc.require_read(req)
    mc.require_write(req)
    model_registry.delete_model(req.app.store, reg.find_model(req, req.params.get("name")))
    return web.Response(200, {})


# --- search --------------------------------------------------------------------------------


def search(req: web.Request) -> web.Response:
    """Models filtered by a name substring, ordered, paginated."""
    mc.require_read(req)
    name_filter = _name_filter(req.params.get("filter"))
    rows = models.list_models(req.app.store, req.project["id"])
    if name_filter:
        rows = [r for r in rows if name_filter in r["name"]]  # LIKE %x%: a substring match
    rows = _ordered(rows, req.params.get("order_by"))
    page, token = mc.paginate(rows, req)
    return web.Response(200, {
        "registered_models": [reg.registered_model_json(req, m) for m in page],
        "next_page_token": token,
    })


def _name_filter(raw: Any) -> str | None:
    """`model_filter_params`: the name to match, or None for no filtering.

    The filter is split on `=`, so `name = 'x'` has the key `"name "` and is rejected (400),
    as is an empty filter, which has no key at all.
    """
    if raw is None:
        return None
    parts = str(raw).split("=")
    while len(parts) > 1 and parts[-1] == "":
        parts.pop()  # Ruby's String#split drops trailing empty fields
    if not str(raw).strip() or parts[0] != "name":
        raise web.invalid_parameter("Invalid attribute key specified. Valid keys are '{'name'}'")
    if len(parts) < 2 or not parts[1].strip():
        return None
    return _OUTER_QUOTES.sub("", parts[1])


def _ordered(rows: list[sqlite3.Row], order_by: Any) -> list[sqlite3.Row]:
    """`model_order_params` + `ModelFinder#ordered`, with the `id desc` tie-break."""
    column, direction = "name", "asc"
    if order_by is not None and str(order_by).strip():
        words = str(order_by).lower().split()
        column = "updated_at" if words[0] == "last_updated_timestamp" else words[0]
        direction = words[1] if len(words) > 1 else "asc"
    if column not in _ORDER_COLUMNS:
        column = "created_at"
    if direction not in ("asc", "desc"):
        direction = "desc"
    rows = sorted(rows, key=lambda r: r["id"], reverse=True)
    return sorted(rows, key=lambda r: r[column], reverse=direction == "desc")
