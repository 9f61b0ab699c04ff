"""The experiments list: `/<project>/-/ml/experiments`."""

from __future__ import annotations

import sqlite3

from mlflow_gitlab.sandbox import web
from mlflow_gitlab.sandbox.backend.experiments import candidate_counts, list_experiments
from mlflow_gitlab.sandbox.pages.render import html, project_page
from mlflow_gitlab.sandbox.router import Router


def register(router: Router) -> None:
    @project_page(router, "/-/ml/experiments")
    def experiments(request: web.Request, project: sqlite3.Row) -> web.Response:
        store = request.app.store
        newest_first = list_experiments(store, project["id"], "last_updated_timestamp desc")
        return html("experiments.html", project=project, experiments=newest_first,
                    counts=candidate_counts(store, project["id"]))
