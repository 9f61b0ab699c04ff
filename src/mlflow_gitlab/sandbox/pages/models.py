"""The model registry's pages: the model list, a model, and one of its versions.

At GitLab's paths: `/-/ml/models`, `/-/ml/models/:model_id` and
`/-/ml/models/:model_id/versions/:model_version_id` (the version's instance-wide id, which
MLflow calls the version); descriptions are GitLab-flavoured Markdown, sanitized.
"""

from __future__ import annotations

import sqlite3

from mlflow_gitlab.sandbox import web
from mlflow_gitlab.sandbox.backend import models
from mlflow_gitlab.sandbox.backend.candidates import get_candidate, run_data
from mlflow_gitlab.sandbox.backend.ci_links import users_by_id
from mlflow_gitlab.sandbox.backend.ml_files import get_package, package_files
from mlflow_gitlab.sandbox.pages.markdown import render
from mlflow_gitlab.sandbox.pages.render import html, project_page
from mlflow_gitlab.sandbox.router import Router


def register(router: Router) -> None:
    @project_page(router, "/-/ml/models")
    def model_list(request: web.Request, project: sqlite3.Row) -> web.Response:
        store = request.app.store
        return html("models.html", project=project,
                    models=models.list_models(store, project["id"]),
                    versions=models.versions_by_model(store, project["id"]))

    @project_page(router, "/-/ml/models/:model_id")
    def model(request: web.Request, project: sqlite3.Row) -> web.Response:
        store = request.app.store
        found = models.find_model_by_id(store, project["id"], request.path_param("model_id"))
        versions = models.model_versions(store, found["id"])
        runs = {v["id"]: get_candidate(store, v["candidate_id"])
                for v in versions if v["candidate_id"] is not None}
        return html("model.html", project=project, model=found, versions=versions, runs=runs,
                    description=render(found["description"] or ""),
                    tags=models.model_tags(store, found["id"]),
                    experiment=models.experiment_of_model(store, found),
                    owner=users_by_id(store, [found["user_id"]]).get(found["user_id"]))

    @project_page(router, "/-/ml/models/:model_id/versions/:version_id")
    def version(request: web.Request, project: sqlite3.Row) -> web.Response:
        store = request.app.store
        found = models.find_model_by_id(store, project["id"], request.path_param("model_id"))
        row = models.find_model_version(store, found, request.path_param("version_id"))
        run = get_candidate(store, row["candidate_id"]) if row["candidate_id"] else None
        data = run_data(store, [run["id"]])[run["id"]] if run is not None else None
        return html("model_version.html", project=project, model=found, version=row,
                    description=render(row["description"] or ""),
                    tags=models.model_version_tags(store, row["id"]), run=run, data=data,
                    package=get_package(store, row["package_id"]),
                    files=package_files(store, row["package_id"]))
