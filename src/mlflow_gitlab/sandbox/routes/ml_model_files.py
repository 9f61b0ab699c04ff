"""ML model package files: upload/download run and model-version artifacts.

`PUT/GET /projects/:id/packages/ml_models/:model_version_id/files/(*path/):file_name`, where
`:model_version_id` is a model-version id or `candidate:<run iid>`. A run's `ml_model` package
is created lazily on its first upload.
"""

from __future__ import annotations

import re
from urllib.parse import quote, unquote

from mlflow_gitlab.sandbox import web
from mlflow_gitlab.sandbox.auth import Family
from mlflow_gitlab.sandbox.backend import packages
from mlflow_gitlab.sandbox.backend.ml_files import (
    candidate_package,
    existing_package_id,
    find_target,
)
from mlflow_gitlab.sandbox.backend.projects import DEVELOPER, access_level
from mlflow_gitlab.sandbox.router import Router
from mlflow_gitlab.sandbox.routes import package_files as pf

FILE_NAME = re.compile(r"[A-Za-z0-9._+ -]+")  # ml_model_file_name_regex: spaces allowed
STATUSES = ("default", "hidden")
ROUTE = "/projects/:id/packages/ml_models/:model_version_id/files/*file_path"


def register(router: Router) -> None:
    """Register the upload and download routes."""
    router.route("PUT", ROUTE, Family.ML_MODEL_FILES, stream_body=True)(upload)
    router.route("GET", ROUTE, Family.ML_MODEL_FILES)(download)


# --- names ---------------------------------------------------------------------------------


def encode_uri_component(value: str) -> str:
    """Ruby's `URI.encode_uri_component`: only `*-._` and alphanumerics stay; space -> %20."""
    return quote(value, safe="*").replace("~", "%7E")


def split_file_path(raw: str) -> tuple[str | None, str]:
    """(path, file_name) from the raw `*file_path`, each validated as Grape would (400)."""
    if pf.has_traversal(raw):
        raise web.grape_error("file_name should be a valid file path")
    *dirs, name = raw.split("/")
    file_name = unquote(name)
    if FILE_NAME.fullmatch(file_name) is None:
        raise web.grape_error("file_name is invalid")
    return ("/".join(unquote(d) for d in dirs) or None), file_name


def stored_file_name(path: str | None, file_name: str) -> str:
    """GitLab stores `encodeURIComponent("<path>/<file>")`: `my_dir%2Fmodel.pkl`."""
    return encode_uri_component(f"{path}/{file_name}" if path else file_name)


# --- targets: a model version or a run ------------------------------------------------------


# --- endpoints -----------------------------------------------------------------------------


def upload(req: web.Request) -> web.Response:
    """Stream the body into the target's package -> 201 `{"message":"201 Created"}`."""
    path, file_name = split_file_path(req.path_params["file_path"])
    status = req.query.get("status", [None])[-1]
    if status is not None and status not in STATUSES:
        raise web.grape_error("status does not have a valid value")
    store = req.app.store
    if access_level(store, req.project, req.principal) < DEVELOPER:
        raise web.forbidden()  # `authorize_upload!`: Guest and Reporter get 403
    too_large = web.bad_request("Artifact file is too large")
    max_size = req.app.settings.ml_model_max_file_size
    if max_size and req.body.length is not None and req.body.length > max_size:
        raise too_large
    target = find_target(store, req.project["id"], req.path_param("model_version_id"))
    if target is None:
        raise web.not_found()
    received = pf.receive(store, req.body, max_size, too_large)
    try:
        with store.tx() as db:
            package_id = (candidate_package(db, target.candidate) if target.candidate
                          else existing_package_id(target))
            if package_id is None:
                raise web.bad_request("Package creation failed")
            if status is not None:
                packages.set_status(db, package_id, status)
            packages.add_file(db, package_id, stored_file_name(path, file_name), received)
    except BaseException:
        pf.discard_blob(store, received)
        raise
    return web.Response(201, {"message": "201 Created"})


def download(req: web.Request) -> web.Response:
    """The newest file of that name; anonymous callers reach only public projects."""
    path, file_name = split_file_path(req.path_params["file_path"])
    store = req.app.store
    target = find_target(store, req.project["id"], req.path_param("model_version_id"))
    package_id = existing_package_id(target) if target is not None else None
    row = None
    if package_id is not None:
        row = packages.newest_file(store, package_id, stored_file_name(path, file_name))
    if row is None:
        raise web.not_found()
    return pf.file_response(store, row)
