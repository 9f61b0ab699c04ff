"""Generic packages: one file at a time under `<name>/<version>/[<path>/]<file>`.

Everything that can be checked from the URL and the caller (Grape validation, role) is
checked before the body is read; the body then streams to disk through
`package_files.receive`, so memory does not grow with the file.
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, unquote_plus

from mlflow_gitlab.sandbox import web
from mlflow_gitlab.sandbox.auth import Family
from mlflow_gitlab.sandbox.backend import packages
from mlflow_gitlab.sandbox.backend.projects import DEVELOPER, REPORTER, access_level
from mlflow_gitlab.sandbox.backend.store import iso8601
from mlflow_gitlab.sandbox.router import Router
from mlflow_gitlab.sandbox.routes import package_files
from mlflow_gitlab.sandbox.routes.rest_common import record_not_found, require_role

ROUTE = "/projects/:id/packages/generic/:package_name/:package_version/*file_path"

# `Gitlab::Regex.generic_package_name_regex` (also the file-name regex) and the version regex.
# Ruby's `\w` is ASCII; `fullmatch` stands for `\A...\z`.
NAME = re.compile(r"[A-Za-z0-9._+-]+")
VERSION = re.compile(r"(?!.*\.\.)[\w+.-]+", re.ASCII)
STATUSES = ("default", "hidden")
SELECTS = ("package_file",)
# `Gitlab::PathTraversal::PATH_TRAVERSAL_REGEX_WITH_NEWLINE`, on the decoded value.
_TRAVERSAL = re.compile(r"\A\.{1,2}\Z|\A\.\.[/\\]|[/\\]\.\.\Z|[/\\]\.\.[/\\]|\n")
# `select=package_file` presents the file: Grape's status for a PUT, 200
# (`lib/api/generic_packages.rb`); without it, `created!` (201).
SELECT_STATUS = 200


@dataclass(frozen=True)
class Target:
    """The file a generic-package URL names."""

    name: str
    version: str
    path: str | None
    file_name: str

    @property
    def stored_name(self) -> str:
        """`path%2Fto%2Ffile` for a file under a sub-path, as GitLab stores it."""
        return package_files.stored_name(self.path, self.file_name)


def register(router: Router) -> None:
    """Register this module's routes."""
    router.route("PUT", ROUTE, Family.GENERIC_PACKAGES, stream_body=True)(upload)
    router.route("GET", ROUTE, Family.GENERIC_PACKAGES)(download)


def upload(req: web.Request) -> web.Response:
    """`PUT`: store the body as a file of the package, creating the package if needed."""
    target, errors = parse_target(req)
    status = _choice(req, "status", STATUSES, errors)
    select = _choice(req, "select", SELECTS, errors)
    if errors:
        raise web.grape_error(", ".join(errors))
    if access_level(req.app.store, req.project, req.principal) < DEVELOPER:
        raise web.forbidden()  # `authorize_create_package!`: Guest, Reporter, non-members
    store = req.app.store
    settings = req.app.settings
    streamed, declared = workhorse_too_large(req.body.length, settings.generic_max_file_size,
                                             settings.workhorse_length_status)
    received = package_files.receive(store, req.body, settings.generic_max_file_size,
                                     streamed, declared_too_large=declared)
    try:
        with store.tx() as db:
            row = _store_file(db, req.project["id"], target, status, received,
                              duplicates=settings.generic_duplicates)
    except BaseException:
        package_files.discard_blob(store, received)
        raise
    if select == "package_file":
        return web.Response(SELECT_STATUS, package_file_json(req.project["id"], row))
    return web.Response(201, {"message": "201 Created"})


def download(req: web.Request) -> web.Response:
    """`GET`: the newest file of that name in the newest matching package."""
    target, errors = parse_target(req)
    if errors:
        raise web.grape_error(", ".join(errors))
    require_role(req, REPORTER)  # `read_package`: a Guest on a private project -> 403
    store = req.app.store
    # `by_name_and_version!` / `PackageFileFinder#execute!` raise RecordNotFound.
    package = packages.find_installable_named(store, req.project["id"], "generic",
                                              target.name, target.version)
    if package is None:
        raise record_not_found()
    row = packages.newest_file(store, package["id"], target.stored_name)
    if row is None:
        raise record_not_found()
    return package_files.file_response(store, row)


def workhorse_too_large(length: int | None, maximum: int, length_status: int
                       ) -> tuple[web.ApiError, web.ApiError]:
    """Workhorse's answers to a body over the limit, before Rails sees the request.

    `workhorse/internal/upload/body_uploader.go` and `destination/destination.go`: a stream
    that runs past `MaximumSize` is 413 with the error as plain text; a `Content-Length`
    over it is 413 too on current versions, and 500 (a `SizeError`) on older ones.
    """
    prefix = "RequestBody: upload failed: "
    streamed = web.ApiError(413, prefix + "entity is too large\n",
                            {"Content-Type": "text/plain; charset=utf-8"})
    if length_status == 500:
        declared = web.ApiError(500, "Internal Server Error\n",
                                {"Content-Type": "text/plain; charset=utf-8"})
    else:
        declared = web.ApiError(413, f"{prefix}the upload size {length} is over maximum of "
                                     f"{maximum} bytes: entity is too large\n",
                                {"Content-Type": "text/plain; charset=utf-8"})
    return streamed, declared


# --- validation -----------------------------------------------------------------------------


def parse_target(req: web.Request) -> tuple[Target, list[str]]:
    """The URL's parts, with Grape's messages for the invalid ones, in declaration order.

    Rails decodes each raw segment once (`%2F` stays inside its segment); the route's
    `(*path/):file_name` makes the last segment the file and the ones between the version
    and it the optional path.
    """
    errors: list[str] = []
    name = req.path_param("package_name")
    version = req.path_param("package_version")
    *dirs, raw_file = req.path_params["file_path"].split("/")
    path = "/".join(unquote(d) for d in dirs) if dirs else None
    file_name = unquote(raw_file)
    _check(errors, "package_name", name, regex=NAME, file_path=True)
    _check(errors, "package_version", version, regex=VERSION, file_path=False)
    if path is not None:
        _check(errors, "path", path, regex=None, file_path=True)
    _check(errors, "file_name", file_name, regex=NAME, file_path=True)
    return Target(name, version, path, file_name), errors


def is_file_path(value: str) -> bool:
    """GitLab's `file_path: true` validator (`check_path_traversal!` + no absolute path).

    The value is decoded once more (CGI.unescape); a value that still changes when decoded
    a third time is refused, which catches double-encoded `%252e%252e%252f`.
    """
    decoded = unquote_plus(value)
    if decoded != unquote_plus(decoded) or _TRAVERSAL.search(decoded):
        return False
    return not decoded.startswith("/")


def _check(errors: list[str], param: str, value: str, *, regex: re.Pattern[str] | None,
           file_path: bool) -> None:
    if regex is not None and not regex.fullmatch(value):
        errors.append(f"{param} is invalid")
    if file_path and not is_file_path(value):
        errors.append(f"{param} should be a valid file path")


def _choice(req: web.Request, param: str, allowed: tuple[str, ...], errors: list[str]
            ) -> str | None:
    """An optional `values:` parameter from the query string (the body is the file)."""
    values = req.query.get(param)
    if values is None:
        return None
    if values[-1] not in allowed:
        errors.append(f"{param} does not have a valid value")
        return None
    return values[-1]


# --- storage and JSON -----------------------------------------------------------------------


def _store_file(db: sqlite3.Connection, project_id: int, target: Target, status: str | None,
                received: packages.ReceivedFile, *, duplicates: bool) -> sqlite3.Row:
    """Append the file to the package; `status` updates the package.

    Without `duplicates` (the group's "Allow duplicates" off for generic packages), a file
    name the package already holds is refused, after the body was received, as
    `Packages::Generic::CreatePackageFileService` and `lib/api/generic_packages.rb` do.
    """
    package = packages.find_or_create(
        db, project_id, "generic", target.name, target.version, status or "default")
    if not duplicates and packages.holds(db, package["id"], target.stored_name):
        raise web.bad_request("Duplicate package is not allowed")
    if status is not None and status != package["status"]:
        packages.set_status(db, package["id"], status)
    # Generic uploads record only the SHA-256 (`CreatePackageFileService`): md5/sha1 are null.
    return packages.add_file(db, package["id"], target.stored_name, received, sha256_only=True)


def package_file_json(project_id: int, row: sqlite3.Row) -> dict[str, Any]:
    """The `select=package_file` body: the `Packages::PackageFile` model's attributes."""
    disk = hashlib.sha256(str(project_id).encode()).hexdigest()  # hashed storage path
    url = f"/{disk[:2]}/{disk[2:4]}/{disk}/packages/{row['package_id']}/files/{row['id']}/"
    return {
        "id": row["id"],
        "package_id": row["package_id"],
        "created_at": iso8601(row["created_at"]),
        "updated_at": iso8601(row["updated_at"]),
        "size": row["size"],
        "file_store": 1,
        "file_md5": row["file_md5"],
        "file_sha1": row["file_sha1"],
        "file_name": row["file_name"],
        "file": {"url": url + row["file_name"]},
        "file_sha256": row["file_sha256"],
        "verification_retry_at": None,
        "verified_at": None,
        "verification_failure": None,
        "verification_retry_count": None,
        "verification_checksum": None,
        "verification_state": 0,
        "verification_started_at": None,
    }
