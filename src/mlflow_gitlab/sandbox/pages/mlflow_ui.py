"""The sandbox's stand-in for MLflow's UI at the tracking URI, so MLflow's printed links open.

MLflow prints `<tracking URI>/#/experiments/<id>/runs/<run id>`; the browser asks for the
tracking URI (`/api/v4/projects/:id/ml/mlflow/`) and keeps the fragment. GitLab answers 404
there (`lib/api/ml/mlflow/entrypoint.rb` mounts only `api/2.0/mlflow/`): this page is the
sandbox's own. Its inline script turns the fragment into a query, which the server answers
with a redirect to GitLab's page for the run, experiment or model.
"""

from __future__ import annotations

import sqlite3

from mlflow_gitlab.sandbox import web
from mlflow_gitlab.sandbox.auth import Family
from mlflow_gitlab.sandbox.backend.candidates import find_candidate
from mlflow_gitlab.sandbox.backend.errors import NotFound
from mlflow_gitlab.sandbox.backend.experiments import (
    candidate_counts,
    find_experiment,
    list_experiments,
)
from mlflow_gitlab.sandbox.backend.models import find_model_by_name, find_model_version
from mlflow_gitlab.sandbox.backend.projects import find_project
from mlflow_gitlab.sandbox.pages.render import html, not_found, project_url
from mlflow_gitlab.sandbox.router import Router


def register(router: Router) -> None:
    for template in ("/projects/:id/ml/mlflow", "/projects/:id/ml/mlflow/"):
        router.route("GET", template, Family.WEB)(mlflow_ui)


def mlflow_ui(request: web.Request) -> web.Response:
    """The redirect a fragment asks for (`?run=`, `?experiment=`, `?model=`), else a list."""
    store = request.app.store
    project = find_project(store, request.path_params["id"])
    if project is None:
        return not_found(request)
    query = {key: values[-1] for key, values in request.query.items() if values}
    try:
        target = _target(request, project, query)
    except NotFound:
        return not_found(request, project)
    if target is not None:
        return web.Response(302, "", {"Location": project_url(request, project, target)})
    return html("mlflow_ui.html", project=project,
                experiments=list_experiments(store, project["id"], "last_updated_timestamp desc"),
                counts=candidate_counts(store, project["id"]))


def _target(request: web.Request, project: sqlite3.Row, query: dict[str, str]) -> str | None:
    """The page path (`/-/ml/...`) the query names; None for no query; NotFound if unknown."""
    store = request.app.store
    project_id = project["id"]
    if "run" in query:
        return f"/-/ml/candidates/{find_candidate(store, project_id, query['run'])['iid']}"
    if "experiment" in query:
        experiment = find_experiment(store, project_id, iid=query["experiment"])
        return f"/-/ml/experiments/{experiment['iid']}"
    if "model" in query:
        model = find_model_by_name(store, project_id, query["model"])
        if "version" in query:
            version = find_model_version(store, model, query["version"])
            return f"/-/ml/models/{model['id']}/versions/{version['id']}"
        return f"/-/ml/models/{model['id']}"
    return None
