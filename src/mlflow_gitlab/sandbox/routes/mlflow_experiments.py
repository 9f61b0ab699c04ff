"""MLflow experiments (GitLab: `Ml::Experiment`, `lib/api/ml/mlflow/experiments.rb`).

Endpoints: get, get-by-name, list, search, create, set-experiment-tag, delete.
`experiment_id` is the per-project iid as a string; there is no experiment "0".
"""

from __future__ import annotations

import sqlite3
from typing import Any

from mlflow_gitlab.sandbox import web
from mlflow_gitlab.sandbox.backend import experiments
from mlflow_gitlab.sandbox.backend.store import Store
from mlflow_gitlab.sandbox.router import Router
from mlflow_gitlab.sandbox.routes.ml_common import key_values, paginate, required
from mlflow_gitlab.sandbox.routes.mlflow_records import (
    authorize,
    grape_integer,
    grape_string,
    key_value_items,
)


def render_experiment(store: Store, experiment: sqlite3.Row) -> dict[str, Any]:
    """The MLflow Experiment entity (no timestamps; always `active`, deletes are hard)."""
    return {
        "experiment_id": str(experiment["iid"]),
        "name": experiment["name"],
        "lifecycle_stage": "active",
        "artifact_location": "not_implemented",
        "tags": key_values(experiments.experiment_tags(store, experiment["id"])),
    }


def find_experiment(req: web.Request, iid: Any = None, name: Any = None) -> sqlite3.Row:
    """`by_iid_or_name` in the request's project; unknown -> 404 (no message)."""
    return experiments.find_experiment(req.app.store, req.project["id"], iid, name)


def register(router: Router) -> None:
    """Register the experiment endpoints."""

    @router.mlflow("GET", "experiments/get")
    def get(req: web.Request) -> web.Response:
        authorize(req)
        iid = grape_string(req.params.get("experiment_id", ""), "experiment_id")
        return web.Response(200, {"experiment": render_experiment(
            req.app.store, find_experiment(req, iid=iid))})

    @router.mlflow("GET", "experiments/get-by-name")
    def get_by_name(req: web.Request) -> web.Response:
        authorize(req)
        # Only `experiment_name` is declared, but GitLab's helper reads `experiment_id` first.
        name = grape_string(req.params.get("experiment_name", ""), "experiment_name")
        experiment = find_experiment(req, iid=req.params.get("experiment_id"), name=name)
        return web.Response(200, {"experiment": render_experiment(req.app.store, experiment)})

    @router.mlflow("GET", "experiments/list")
    def list_all(req: web.Request) -> web.Response:
        authorize(req)
        rows = experiments.list_experiments(req.app.store, req.project["id"])
        return web.Response(200, {"experiments": [render_experiment(req.app.store, row)
                                                  for row in rows]})

    @router.mlflow("POST", "experiments/search")
    def search(req: web.Request) -> web.Response:
        authorize(req)
        grape_integer(req.params.get("max_results"), "max_results")
        order_by = grape_string(req.params.get("order_by"), "order_by")  # an array -> 400
        for name in ("page_token", "filter"):  # `filter` is declared, then ignored
            grape_string(req.params.get(name), name)
        rows = experiments.list_experiments(req.app.store, req.project["id"], order_by)
        page, token = paginate(rows, req)
        return web.Response(200, {
            "experiments": [render_experiment(req.app.store, row) for row in page],
            "next_page_token": token,
        })

    @router.mlflow("POST", "experiments/create")
    def create(req: web.Request) -> web.Response:
        authorize(req)
        (name,) = required(req, "name")
        name = grape_string(name, "name")
        tags = key_value_items(req.params.get("tags"), "tags")
        grape_string(req.params.get("artifact_location"), "artifact_location")  # ignored
        experiment = experiments.create_experiment(
            req.app.store, req.project["id"], name, req.principal.user_id, tags)
        return web.Response(200, {"experiment_id": str(experiment["iid"])})

    @router.mlflow("POST", "experiments/set-experiment-tag")
    def set_tag(req: web.Request) -> web.Response:
        authorize(req)
        iid, key, value = (grape_string(v, n) for v, n in zip(
            required(req, "experiment_id", "key", "value"), ("experiment_id", "key", "value"),
            strict=True))
        experiment = find_experiment(req, iid=iid)
        experiments.set_experiment_tag(req.app.store, experiment["id"], key, value)
        return web.Response(200, {})

    @router.mlflow("POST", "experiments/delete")
    def delete(req: web.Request) -> web.Response:
        authorize(req)
        (iid,) = required(req, "experiment_id")
        experiment = find_experiment(req, iid=grape_string(iid, "experiment_id"))
        experiments.delete_experiment(req.app.store, experiment)
        return web.Response(200, {})
