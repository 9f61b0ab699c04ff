"""The packages API: list, get and delete a project's packages and their files.

Every route first checks `read_package` (GitLab's `before { authorize_packages_access! }`),
then Grape validation, then the route's own permission; unknown ids are
`ActiveRecord::RecordNotFound` -> `{"message":"404 Not found"}`.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any

from mlflow_gitlab.sandbox import web
from mlflow_gitlab.sandbox.api.rest_common import Params, record_not_found, require_role
from mlflow_gitlab.sandbox.api.rest_pagination import paginated, pagination_errors
from mlflow_gitlab.sandbox.auth import Family
from mlflow_gitlab.sandbox.backend.projects import MAINTAINER, REPORTER, access_level
from mlflow_gitlab.sandbox.backend.store import iso8601
from mlflow_gitlab.sandbox.router import Router

PACKAGE_TYPES = ("maven", "npm", "conan", "nuget", "pypi", "composer", "generic", "golang",
                 "debian", "rubygems", "helm", "terraform_module", "rpm", "ml_model", "cargo")
STATUSES = ("default", "hidden", "processing", "error", "pending_destruction")
DISPLAYABLE = ("default", "error")  # listed when no `status` is asked for
INSTALLABLE = ("default", "hidden")  # found by id
ORDER_COLUMNS = {"created_at": "created_at", "name": "name", "version": "version",
                 "type": "package_type"}
FILE_ORDER_COLUMNS = ("id", "created_at", "file_name")
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
    sql, args = query.sql(req.project["id"])
    rows = req.app.store.all(sql, *args)
    can_destroy = _can_destroy(req)
    return paginated(req, [package_json(req, row, can_destroy) for row in rows], LIST_DEFAULTS)


@dataclass(frozen=True)
class PackageQuery:
    """The list filters of `PackagesFinder`, as one SQL query."""

    order_by: str
    sort: str
    package_type: str | None
    name: str | None
    version: str | None
    versionless: bool
    status: str | None

    def sql(self, project_id: int) -> tuple[str, list[Any]]:
        statuses = (self.status,) if self.status else DISPLAYABLE  # hidden only if asked
        sql = ["SELECT * FROM packages WHERE project_id = ?",
               f"AND status IN ({', '.join('?' * len(statuses))})"]
        args: list[Any] = [project_id, *statuses]
        if not self.versionless:
            sql.append("AND version IS NOT NULL")
        if self.package_type:
            sql.append("AND package_type = ?")
            args.append(self.package_type)
        if self.name:  # `search_by_name`: a case-insensitive substring match
            sql.append("AND instr(lower(name), lower(?)) > 0")
            args.append(self.name)
        if self.version is not None:  # exact
            sql.append("AND version = ?")
            args.append(self.version)
        direction = "DESC" if self.sort == "desc" else "ASC"
        sql.append(f"ORDER BY {ORDER_COLUMNS[self.order_by]} {direction}, id {direction}")
        return " ".join(sql), args


def get_package(req: web.Request) -> web.Response:
    """`GET /projects/:id/packages/:package_id`: one package, with its other versions."""
    require_role(req, REPORTER)
    package = _find_package(req, _ids(req, "package_id")[0])
    body = package_json(req, package, _can_destroy(req))
    body["versions"] = [_version_json(row) for row in _other_versions(req, package)]
    return web.Response(200, body)


def delete_package(req: web.Request) -> web.Response:
    """`DELETE /projects/:id/packages/:package_id`: Maintainer+, 204."""
    require_role(req, REPORTER)
    (package_id,) = _ids(req, "package_id")
    _require_destroy(req)
    package = _find_package(req, package_id)
    store = req.app.store
    with store.tx() as db:
        blobs = [r["blob"] for r in db.execute(
            "SELECT blob FROM package_files WHERE package_id = ?", (package["id"],))]
        db.execute("DELETE FROM package_files WHERE package_id = ?", (package["id"],))
        db.execute("DELETE FROM packages WHERE id = ?", (package["id"],))
    _unlink(req, blobs)
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
    direction = "DESC" if sort == "desc" else "ASC"
    rows = req.app.store.all(
        f"SELECT * FROM package_files WHERE package_id = ? "
        f"ORDER BY {order_by} {direction}, id {direction}", package["id"])
    return paginated(req, [package_file_json(row) for row in rows], FILE_DEFAULTS)


def delete_file(req: web.Request) -> web.Response:
    """`DELETE .../package_files/:package_file_id`: Maintainer+, 204."""
    require_role(req, REPORTER)
    package_id, file_id = _ids(req, "package_id", "package_file_id")
    _require_destroy(req)
    package = _find_package(req, package_id)
    row = req.app.store.one("SELECT * FROM package_files WHERE id = ? AND package_id = ?",
                            file_id, package["id"])
    if row is None:
        raise web.not_found()  # `not_found! unless package_file`: capital F, unlike above
    with req.app.store.tx() as db:
        db.execute("DELETE FROM package_files WHERE id = ?", (row["id"],))
    _unlink(req, [row["blob"]])
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
    row = req.app.store.one(
        "SELECT * FROM packages WHERE id = ? AND project_id = ? AND status IN (?, ?)",
        package_id, req.project["id"], *INSTALLABLE)
    if row is None:
        raise record_not_found()
    return row


def _other_versions(req: web.Request, package: sqlite3.Row) -> list[sqlite3.Row]:
    return req.app.store.all(
        "SELECT * FROM packages WHERE project_id = ? AND name = ? AND package_type = ? "
        "AND version IS NOT ? AND status IN (?, ?) ORDER BY version, id",
        package["project_id"], package["name"], package["package_type"], package["version"],
        *INSTALLABLE)


def _can_destroy(req: web.Request) -> bool:
    """`destroy_package`: Maintainer or higher."""
    return access_level(req.app.store, req.project, req.principal) >= MAINTAINER


def _require_destroy(req: web.Request) -> None:
    if not _can_destroy(req):
        raise web.forbidden()


def _unlink(req: web.Request, blobs: list[str]) -> None:
    for blob in blobs:
        req.app.store.blob_path(blob).unlink(missing_ok=True)
