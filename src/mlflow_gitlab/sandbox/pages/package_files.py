"""A package file's download link for a browser: `/<project>/-/package_files/:id/download`.

GitLab serves this page route to a signed-in user who may read the project's packages
(`Projects::Packages::PackageFilesController#download`); the API's download URLs want a
token, which a link in a page cannot send. The sandbox's pages need no sign-in.
"""

from __future__ import annotations

import sqlite3

from mlflow_gitlab.sandbox import web
from mlflow_gitlab.sandbox.backend.ml_files import find_package_file
from mlflow_gitlab.sandbox.pages.render import project_page
from mlflow_gitlab.sandbox.router import Router


def register(router: Router) -> None:
    @project_page(router, "/-/package_files/:file_id/download")
    def download(request: web.Request, project: sqlite3.Row) -> web.Response:
        store = request.app.store
        row = find_package_file(store, project["id"], request.path_param("file_id"))
        name = row["file_name"].replace('"', "%22")
        return web.Response(200, file=store.blob_path(row["blob"]), headers={
            "Content-Type": "application/octet-stream",
            "Content-Disposition": f'attachment; filename="{name}"',
            "X-Checksum-SHA256": row["file_sha256"],
        })
