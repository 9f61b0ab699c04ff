"""The PyPI package registry of a project: twine's upload, pip's simple index and downloads.

Follows `lib/api/pypi_packages.rb` and `app/services/packages/pypi/create_package_service.rb`;
credentials are read by `registry_auth`, the rules live in `pypi_index`.
"""

from __future__ import annotations

import sqlite3

from mlflow_gitlab.sandbox import multipart, pypi_index, registry_auth, web
from mlflow_gitlab.sandbox.auth import Family
from mlflow_gitlab.sandbox.backend import packages
from mlflow_gitlab.sandbox.backend import pypi_packages as pypi
from mlflow_gitlab.sandbox.backend.projects import find_project
from mlflow_gitlab.sandbox.backend.store import Store
from mlflow_gitlab.sandbox.router import Router
from mlflow_gitlab.sandbox.routes import package_files

BASE = "/projects/:id/packages/pypi"
HTML = {"Content-Type": "text/html; charset=utf-8"}
_FORM_OVERHEAD = 1 << 20  # the other fields of a form, on top of the file itself


def register(router: Router) -> None:
    """Register this module's routes."""
    router.route("POST", BASE, Family.PYPI, stream_body=True)(upload)
    router.route("GET", BASE + "/simple", Family.PYPI)(simple_index)
    router.route("GET", BASE + "/simple/", Family.PYPI)(simple_index)
    router.route("GET", BASE + "/simple/*package_name", Family.PYPI)(simple_package)
    router.route("GET", BASE + "/files/:sha256/*file_identifier", Family.PYPI)(download)


def upload(req: web.Request) -> web.Response:
    """`POST`: one file of a package version, as twine sends it; 201 `{"message":"201 Created"}`."""
    caller = _caller(req)
    project = _project(req)
    registry_auth.check_upload(registry_auth.access(req.app.store, project, caller))
    limit = req.app.settings.pypi_max_file_size
    if limit and req.body.length is not None and req.body.length > limit + _FORM_OVERHEAD:
        raise web.bad_request("File is too large")
    form = _form(req)
    content = form.files["content"]
    if limit and len(content.data) > limit:
        raise web.bad_request("File is too large")
    fields = form.fields
    requires_python = pypi_index.fitted_requires_python(fields.get("requires_python") or "")
    errors = pypi_index.validation_errors(fields["name"], fields["version"])
    if errors:
        raise web.bad_request("Validation failed: " + ", ".join(errors))
    _create(req.app.store, project["id"], fields, requires_python, content)
    return web.Response(201, {"message": "201 Created"})


def simple_index(req: web.Request) -> web.Response:
    """`GET simple`: every package of the project, linked to its simple page."""
    project = _readable_project(req)
    api = f"{req.base_url}/api/v4"
    links = [pypi_index.Link(pypi_index.package_url(api, project["id"], row["name"]),
                             row["required_python"], row["name"])
             for row in pypi.installable(req.app.store, project["id"])]
    return web.Response(200, pypi_index.page(project["name"], links), dict(HTML))


def simple_package(req: web.Request) -> web.Response:
    """`GET simple/:package_name`: the files of every version, with `#sha256=` fragments."""
    project = _readable_project(req)
    # `with_normalized_pypi_name`: the stored name normalised, the asked one only downcased.
    asked = req.path_param("package_name").rstrip("/").lower()
    versions = [row for row in pypi.installable(req.app.store, project["id"])
                if pypi_index.normalized(row["name"]) == asked]
    if not versions:
        raise web.not_found("Package")
    api = f"{req.base_url}/api/v4"
    links = [pypi_index.Link(pypi_index.file_url(api, project["id"], file["file_sha256"],
                                                 file["file_name"]),
                             package["required_python"], file["file_name"])
             for package in versions for file in packages.all_files(req.app.store, package["id"])]
    return web.Response(200, pypi_index.page(versions[0]["name"], links), dict(HTML))


def download(req: web.Request) -> web.Response:
    """`GET files/:sha256/*file_identifier`: the newest file of that name and digest."""
    project = _readable_project(req)
    row = pypi.find_file(req.app.store, project["id"], req.path_param("file_identifier"),
                         req.path_param("sha256"))
    if row is None:
        raise web.not_found("Package")
    return package_files.file_response(req.app.store, row)


# --- helpers --------------------------------------------------------------------------------


def _caller(req: web.Request) -> registry_auth.Caller:
    caller = registry_auth.identify(req.app.store, req.headers, req.method)
    if not isinstance(caller, registry_auth.DeployToken):
        req.principal = caller
    return caller


def _project(req: web.Request) -> sqlite3.Row:
    """`find_project(params[:id]) || not_found!`: 404 even to anonymous callers."""
    project = find_project(req.app.store, req.path_params["id"])
    if project is None:
        raise web.not_found()
    req.project = project
    return project


def _readable_project(req: web.Request) -> sqlite3.Row:
    caller = _caller(req)
    project = _project(req)
    registry_auth.check_read(registry_auth.access(req.app.store, project, caller))
    return project


def _form(req: web.Request) -> multipart.Form:
    """The upload form after Grape's validation of `content`, `name`, `version`, digests."""
    boundary = multipart.boundary_of(req.headers.get("Content-Type"))
    form = multipart.Form({}, {})
    if boundary is not None:
        try:
            form = multipart.parse(req.body.read_all(), boundary)
        except multipart.MalformedForm:
            raise web.bad_request() from None
    missing = [name for name in ("content", "name", "version")
               if (form.files if name == "content" else form.fields).get(name) is None]
    if missing:
        raise web.grape_error(", ".join(f"{name} is missing" for name in missing))
    digest = form.fields.get("sha256_digest")
    if digest is not None and not pypi_index.SHA256.fullmatch(digest):
        raise web.grape_error("sha256_digest is invalid")
    return form


def _create(store: Store, project_id: int, fields: dict[str, str], requires_python: str,
            content: multipart.FormFile) -> None:
    """`CreatePackageService`: find or create the version, upsert its metadata, add the file
    (a second file of the same name is a validation error: `Packages::PackageFile`)."""
    received = package_files.store_bytes(store, content.data)
    # The digests are stored as the client sent them, as GitLab does (`file_params`): one it
    # left out is none, which GitLab keeps as nil and this store as '' (a link to
    # `files//<name>#sha256=`, which pip cannot use).
    received = packages.ReceivedFile(
        received.blob, received.size, fields.get("sha256_digest") or "",
        fields.get("md5_digest"), received.sha1)
    try:
        pypi.add_upload(store, project_id, fields["name"], fields["version"], requires_python,
                        content.filename, received)
    except BaseException:
        package_files.discard_blob(store, received)
        raise
