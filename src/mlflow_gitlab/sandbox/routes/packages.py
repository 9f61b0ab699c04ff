"""The packages API: list, get and delete a project's packages and their files.

Every route first checks `read_package` (GitLab's `before { authorize_packages_access! }`),
then Grape validation, then the route's own permission; unknown ids are
`ActiveRecord::RecordNotFound` -> `{"message":"404 Not found"}`.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from mlflow_gitlab.sandbox import web
from mlflow_gitlab.sandbox.auth import Family
from mlflow_gitlab.sandbox.backend import packages
from mlflow_gitlab.sandbox.backend.packages import (
    FILE_ORDER_COLUMNS,
    ORDER_COLUMNS,
    PACKAGE_TYPES,
    STATUSES,
    PackageQuery,
)
from mlflow_gitlab.sandbox.backend.projects import MAINTAINER, REPORTER, access_level
from mlflow_gitlab.sandbox.backend.store import iso8601
from mlflow_gitlab.sandbox.router import Router
from mlflow_gitlab.sandbox.routes.rest_common import Params, record_not_found, require_role
from mlflow_gitlab.sandbox.routes.rest_pagination import paginated, pagination_errors

SORTS = ("asc", "desc")
# Declared defaults; Grape adds them to `params`, hence to the pagination Link URLs.
LIST_DEFAULTS = {"order_by": "created_at", "sort": "asc"}
FILE_DEFAULTS = {"order_by": "id", "sort": "asc"}
# Grape's Boolean coercion.
_BOOLEANS = {"true": True, "t": True, "1": True, "yes": True, "y": True, "on": True,
             "false": False, "f": False, "0": False, "no": False, "n": False, "off": False}


def register(router: Router) -> None:
    """Register this module's routes."""
    base = "/projects/:id/packages"
    router.route("GET", base, Family.PACKAGES)(list_packages)
    router.route("GET", base + "/:package_id", Family.PACKAGES)(get_package)
    router.route("DELETE", base + "/:package_id", Family.PACKAGES)(delete_package)
    router.route("GET", base + "/:package_id/package_files", Family.PACKAGES)(list_files)
    router.route("DELETE", base + "/:package_id/package_files/:package_file_id",
                 Family.PACKAGES)(delete_file)


# --- endpoints ------------------------------------------------------------------------------


def list_packages(req: web.Request) -> web.Response:
    """`GET /projects/:id/packages`: filtered, ordered, offset-paginated."""
    require_role(req, REPORTER)
    params = Params(req)
    params.errors.extend(pagination_errors(req))
    query = PackageQuery(
        order_by=params.choice("order_by", ORDER_COLUMNS) or LIST_DEFAULTS["order_by"],
        sort=params.choice("sort", SORTS) or LIST_DEFAULTS["sort"],
        package_type=params.choice("package_type", PACKAGE_TYPES),
        name=params.string("package_name"),
        version=params.string("package_version"),
        versionless=_boolean(params, "include_versionless"),
        status=params.choice("status", STATUSES),
    )
    params.check()
    rows = packages.list_packages(req.app.store, req.project["id"], query)
    can_destroy = _can_destroy(req)
    return paginated(req, [package_json(req, row, can_destroy) for row in rows], LIST_DEFAULTS)


def get_package(req: web.Request) -> web.Response:
    """`GET /projects/:id/packages/:package_id`: one package, with its other versions."""
    require_role(req, REPORTER)
    package = _find_package(req, _ids(req, "package_id")[0])
    body = package_json(req, package, _can_destroy(req))
    body["versions"] = [_version_json(row)
                        for row in packages.other_versions(req.app.store, package)]
    return web.Response(200, body)


def delete_package(req: web.Request) -> web.Response:
    """`DELETE /projects/:id/packages/:package_id`: Maintainer+, 204."""
    require_role(req, REPORTER)
    (package_id,) = _ids(req, "package_id")
    _require_destroy(req)
    packages.delete_package(req.app.store, _find_package(req, package_id))
    return web.Response(204)


def list_files(req: web.Request) -> web.Response:
    """`GET /projects/:id/packages/:package_id/package_files`: offset-paginated."""
    require_role(req, REPORTER)
    (package_id,) = _ids(req, "package_id")
    params = Params(req)
    params.errors.extend(pagination_errors(req))
    order_by = params.choice("order_by", FILE_ORDER_COLUMNS) or FILE_DEFAULTS["order_by"]
    sort = params.choice("sort", SORTS) or FILE_DEFAULTS["sort"]
    params.check()
    package = _find_package(req, package_id)
    rows = packages.all_files(req.app.store, package["id"], order_by, sort)
    return paginated(req, [package_file_json(row) for row in rows], FILE_DEFAULTS)


def delete_file(req: web.Request) -> web.Response:
    """`DELETE .../package_files/:package_file_id`: Maintainer+, 204."""
    require_role(req, REPORTER)
    package_id, file_id = _ids(req, "package_id", "package_file_id")
    _require_destroy(req)
    package = _find_package(req, package_id)
    row = packages.find_file(req.app.store, package["id"], file_id)
    if row is None:
        raise web.not_found()  # `not_found! unless package_file`: capital F, unlike above
    packages.delete_file(req.app.store, row)
    return web.Response(204)


# --- entities -------------------------------------------------------------------------------


def package_json(req: web.Request, row: sqlite3.Row, can_destroy: bool) -> dict[str, Any]:
    """`API::Entities::Package`; `delete_api_path` only for a caller who may delete."""
    links = {"web_path": f"/{req.project['path']}/-/packages/{row['id']}"}
    if can_destroy:
        links["delete_api_path"] = (
            f"{req.base_url}/api/v4/projects/{row['project_id']}/packages/{row['id']}")
    return {
        "id": row["id"],
        "name": row["name"],
        "version": row["version"],
        "package_type": row["package_type"],
        "status": row["status"],
        "_links": links,
        "created_at": iso8601(row["created_at"]),
        "tags": [],
        "pipelines": [],  # the sandbox records no build info for packages
    }


def package_file_json(row: sqlite3.Row) -> dict[str, Any]:
    """`API::Entities::PackageFile`."""
    return {
        "id": row["id"],
        "package_id": row["package_id"],
        "created_at": iso8601(row["created_at"]),
        "file_name": row["file_name"],
        "size": row["size"],
        "file_md5": row["file_md5"],
        "file_sha1": row["file_sha1"],
        "file_sha256": row["file_sha256"],
        "pipelines": [],
    }


def _version_json(row: sqlite3.Row) -> dict[str, Any]:
    """`API::Entities::PackageVersion`: another version of the same package."""
    return {"id": row["id"], "version": row["version"],
            "created_at": iso8601(row["created_at"]), "tags": [], "pipelines": []}


# --- helpers --------------------------------------------------------------------------------


def _ids(req: web.Request, *names: str) -> list[int]:
    """Path parameters declared `type: Integer`; every bad one is named in one 400."""
    values: list[int] = []
    errors: list[str] = []
    for name in names:
        raw = req.path_param(name)
        if raw.isascii() and raw.isdigit():
            values.append(int(raw))
        else:
            errors.append(f"{name} is invalid")
    if errors:
        raise web.grape_error(", ".join(errors))
    return values


def _boolean(params: Params, name: str) -> bool:
    value = params.string(name)
    if value is None:
        return False
    if value.lower() not in _BOOLEANS:
        params.errors.append(f"{name} is invalid")
        return False
    return _BOOLEANS[value.lower()]


def _find_package(req: web.Request, package_id: int) -> sqlite3.Row:
    """`PackageFinder`: an installable package of this project, or RecordNotFound."""
    row = packages.find_installable(req.app.store, req.project["id"], package_id)
    if row is None:
        raise record_not_found()
    return row


def _can_destroy(req: web.Request) -> bool:
    """`destroy_package`: Maintainer or higher."""
    return access_level(req.app.store, req.project, req.principal) >= MAINTAINER


def _require_destroy(req: web.Request) -> None:
    if not _can_destroy(req):
        raise web.forbidden()
