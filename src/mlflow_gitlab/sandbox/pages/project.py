"""A project's home page, `/<project>`: its description and what each section holds.

Registered last: its route takes any path, so a path that names no project is answered as
GitLab's router answers an unknown path, and one under a project's `/-/` is the 404 page.
"""

from __future__ import annotations

from mlflow_gitlab.sandbox import web
from mlflow_gitlab.sandbox.auth import Family
from mlflow_gitlab.sandbox.backend import merge_requests, packages
from mlflow_gitlab.sandbox.backend.experiments import list_experiments
from mlflow_gitlab.sandbox.backend.models import list_models
from mlflow_gitlab.sandbox.backend.pipelines import list_pipelines
from mlflow_gitlab.sandbox.backend.projects import project_at_path
from mlflow_gitlab.sandbox.pages.markdown import render
from mlflow_gitlab.sandbox.pages.render import html, not_found
from mlflow_gitlab.sandbox.router import Router


def register(router: Router) -> None:
    @router.route("GET", "/*project", Family.WEB, prefix="", catch_all=True)
    def home(request: web.Request) -> web.Response:
        store = request.app.store
        path = request.path_param("project")
        project = project_at_path(store, path)
        if project is None:
            head, inside, _ = path.partition("/-/")
            owner = project_at_path(store, head) if inside else None
            if owner is None:
                raise web.route_not_found()
            return not_found(request, owner)
        pipelines = list_pipelines(store, project["id"])
        return html("project.html", project=project,
                    description=render(project["description"] or ""),
                    experiments=len(list_experiments(store, project["id"])),
                    models=len(list_models(store, project["id"])),
                    packages=len(packages.list_packages(store, project["id"])),
                    open_merge_requests=len(merge_requests.list_merge_requests(
                        store, project["id"], merge_requests.MergeRequestFilter(state="opened"))),
                    pipelines=len(pipelines), latest=pipelines[0] if pipelines else None)
