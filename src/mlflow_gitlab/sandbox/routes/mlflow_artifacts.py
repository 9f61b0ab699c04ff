"""The MLflow artifact proxy: read-only listing and download of run/version files.

`mlflow-artifacts:/<model version id>` and `mlflow-artifacts:/candidate:<run iid>` resolve
here. There is no PUT route: the MLflow client cannot upload through this proxy.
"""

from __future__ import annotations

from urllib.parse import quote_plus, unquote

from mlflow_gitlab.sandbox import web
from mlflow_gitlab.sandbox.auth import Family
from mlflow_gitlab.sandbox.backend import packages
from mlflow_gitlab.sandbox.backend.ml_files import existing_package_id, find_target
from mlflow_gitlab.sandbox.router import ARTIFACTS_PREFIX, Router
from mlflow_gitlab.sandbox.routes import ml_common as mc
from mlflow_gitlab.sandbox.routes import package_files as pf


def register(router: Router) -> None:
    """Register the two GET routes."""
    router.route("GET", ARTIFACTS_PREFIX + "artifacts", Family.MLFLOW)(list_artifacts)
    router.route("GET", ARTIFACTS_PREFIX + "artifacts/:model_version/*file_path",
                 Family.MLFLOW)(get_artifact)


def list_artifacts(req: web.Request) -> web.Response:
    """`?path=<mv id>|candidate:<iid>[/<sub>]`: the package's files, flat; any sub-path -> []."""
    mc.require_read(req)
    raw = req.params.get("path")
    if raw is None:
        raise web.not_found_mlflow()
    ref, _, sub = str(raw).partition("/")
    if sub:  # GitLab has no directories; a 404 here would break the MLflow client
        return web.Response(200, {"files": []})
    store = req.app.store
    target = find_target(store, req.project["id"], ref)
    package_id = existing_package_id(target) if target is not None else None
    if package_id is None:
        raise web.not_found_mlflow()
    rows = packages.all_files(store, package_id)
    files = [{"path": r["file_name"], "file_size": r["size"], "is_dir": False} for r in rows]
    return web.Response(200, {"files": files})


def get_artifact(req: web.Request) -> web.Response:
    """One file, looked up under `CGI.escape(<decoded path>)`, so `dir/f` finds `dir%2Ff`."""
    mc.require_read(req)
    store = req.app.store
    target = find_target(store, req.project["id"], req.path_param("model_version"))
    package_id = existing_package_id(target) if target is not None else None
    # CGI.escape, unlike the upload's encodeURIComponent, turns a space into `+`: a file
    # name with a space is stored as `a%20b` but looked up as `a+b` here, as on GitLab.
    name = quote_plus(unquote(req.path_params["file_path"]), safe="")
    row = packages.newest_file(store, package_id, name) if package_id is not None else None
    if row is None:
        raise web.not_found_mlflow()
    return pf.file_response(store, row)
