"""A run's page: `/<project>/-/ml/candidates/:iid`, its data, charts, CI links and files.

As GitLab's (`app/presenters/ml/candidate_details_presenter.rb`): params, latest metrics,
tags, the CI job with its pipeline, merge request and user; and a chart per metric from its
whole history, which GitLab's page draws in the browser and this one draws as SVG.
"""

from __future__ import annotations

import sqlite3

from markupsafe import Markup

from mlflow_gitlab.sandbox import web
from mlflow_gitlab.sandbox.backend.candidates import (
    child_candidates,
    find_candidate,
    find_candidate_by_iid,
    metric_history,
    run_data,
)
from mlflow_gitlab.sandbox.backend.ci_links import ci_links
from mlflow_gitlab.sandbox.backend.errors import NotFound
from mlflow_gitlab.sandbox.backend.experiments import get_experiment
from mlflow_gitlab.sandbox.backend.ml_files import find_package, get_package, package_files
from mlflow_gitlab.sandbox.backend.models import get_model_version
from mlflow_gitlab.sandbox.backend.records import ar_integer
from mlflow_gitlab.sandbox.backend.store import Store
from mlflow_gitlab.sandbox.pages.charts import Series, line_chart
from mlflow_gitlab.sandbox.pages.render import html, project_page
from mlflow_gitlab.sandbox.router import Router

PARENT_TAG = "mlflow.parentRunId"
OUTPUT_PACKAGE_TAGS = ("mlflow-gitlab.package.name", "mlflow-gitlab.package.version")


def register(router: Router) -> None:
    @project_page(router, "/-/ml/candidates/:iid")
    def candidate(request: web.Request, project: sqlite3.Row) -> web.Response:
        store = request.app.store
        iid = ar_integer(request.path_param("iid"))
        found = find_candidate_by_iid(store, project["id"], iid) if iid is not None else None
        if found is None:
            raise NotFound()
        data = run_data(store, [found["id"]])[found["id"]]
        tags = {tag["key"]: tag["value"] for tag in data.tags}
        version = (get_model_version(store, found["model_version_id"])
                   if found["model_version_id"] is not None else None)
        outputs = find_package(store, project["id"], "generic",
                               *(tags.get(key) for key in OUTPUT_PACKAGE_TAGS))
        return html(
            "candidate.html", project=project, candidate=found, data=data, tags=data.tags,
            experiment=get_experiment(store, found["experiment_id"]),
            parent=_parent(store, project["id"], tags.get(PARENT_TAG)),
            children=child_candidates(store, found),
            ci=ci_links(store, [found])[found["id"]],
            charts=[(m["key"], _chart(store, found["id"], m["key"])) for m in data.metrics],
            package=get_package(store, found["package_id"]),
            files=package_files(store, found["package_id"]),
            outputs=outputs, output_files=package_files(store, outputs["id"]) if outputs else [],
            version=version)


def _parent(store: Store, project_id: int, run_id: str | None) -> sqlite3.Row | None:
    if not run_id:
        return None
    try:
        return find_candidate(store, project_id, run_id)
    except NotFound:
        return None


def _chart(store: Store, candidate_id: int, key: str) -> Markup:
    """The metric's history by step (by point number when steps repeat)."""
    points = metric_history(store, candidate_id, key)
    steps = [p["step"] for p in points]
    by_step = None not in steps and len(set(steps)) == len(steps)
    series = [(float(p["step"]) if by_step else float(i), p["value"])
              for i, p in enumerate(points)]
    return line_chart(key, [Series(key, series)], x_label="step" if by_step else "point")
