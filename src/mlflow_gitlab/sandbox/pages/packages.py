"""The package registry's pages: `/<project>/-/packages` and `/-/packages/:id`.

The list takes GitLab's page filters `search[]` (a name substring, as the report's links
use it) and `type` (`generic`, `ml_model`, ...); a package's page lists its files with their
sizes and checksums, its other versions, and the run or model version it holds.
"""

from __future__ import annotations

import sqlite3

from mlflow_gitlab.sandbox import web
from mlflow_gitlab.sandbox.backend import packages
from mlflow_gitlab.sandbox.backend.errors import NotFound
from mlflow_gitlab.sandbox.backend.ml_files import package_files
from mlflow_gitlab.sandbox.backend.packages import PACKAGE_TYPES, PackageQuery
from mlflow_gitlab.sandbox.backend.records import ar_integer
from mlflow_gitlab.sandbox.pages.render import html, project_page
from mlflow_gitlab.sandbox.router import Router


def register(router: Router) -> None:
    @project_page(router, "/-/packages")
    def package_list(request: web.Request, project: sqlite3.Row) -> web.Response:
        store = request.app.store
        search = " ".join(request.query.get("search[]", [])).strip()
        wanted = (request.query.get("type") or [""])[-1].lower()
        query = PackageQuery(order_by="created_at", sort="desc", name=search or None,
                             package_type=wanted if wanted in PACKAGE_TYPES else None)
        rows = packages.list_packages(store, project["id"], query)
        return html("packages.html", project=project, packages=rows, search=search,
                    type=query.package_type,
                    counts=packages.file_counts(store, [row["id"] for row in rows]))

    @project_page(router, "/-/packages/:package_id")
    def package(request: web.Request, project: sqlite3.Row) -> web.Response:
        store = request.app.store
        package_id = ar_integer(request.path_param("package_id"))
        found = (packages.find_installable(store, project["id"], package_id)
                 if package_id is not None else None)
        if found is None:
            raise NotFound()
        return html("package.html", project=project, package=found,
                    files=package_files(store, found["id"]),
                    uploads=packages.all_files(store, found["id"]),
                    versions=packages.other_versions(store, found),
                    holder=packages.holder(store, found))
