"""MLflow experiments (GitLab: `Ml::Experiment`, `lib/api/ml/mlflow/experiments.rb`).

Endpoints: get, get-by-name, list, search, create, set-experiment-tag, delete.
`experiment_id` is the per-project iid as a string; there is no experiment "0".
"""

from __future__ import annotations

import sqlite3
from typing import Any

from mlflow_gitlab.sandbox import web
from mlflow_gitlab.sandbox.api.ml_common import insert_experiment, key_values, paginate, required
from mlflow_gitlab.sandbox.api.mlflow_records import (
    EXPERIMENT_TAGS,
    ar_integer,
    authorize,
    grape_integer,
    grape_string,
    insert_key_values,
    key_value_items,
    validate_metadata,
)
from mlflow_gitlab.sandbox.app import Router
from mlflow_gitlab.sandbox.store import Store

# `Projects::Ml::ExperimentFinder`: whitelisted columns, anything else orders by id.
EXPERIMENT_ORDER_COLUMNS = ("name", "created_at", "updated_at", "id")


def render_experiment(store: Store, experiment: sqlite3.Row) -> dict[str, Any]:
    """The MLflow Experiment entity (no timestamps; always `active`, deletes are hard)."""
    tags = store.all("SELECT key, value FROM experiment_tags WHERE experiment_id = ? ORDER BY id",
                     experiment["id"])
    return {
        "experiment_id": str(experiment["iid"]),
        "name": experiment["name"],
        "lifecycle_stage": "active",
        "artifact_location": "not_implemented",
        "tags": key_values(tags),
    }


def find_experiment(req: web.Request, iid: Any = None, name: Any = None) -> sqlite3.Row:
    """`by_iid_or_name`: the iid wins whenever given (even `""`); unknown -> 404 (no message)."""
    store, project_id = req.app.store, req.project["id"]
    row = None
    if iid is not None:
        number = ar_integer(iid)
        if number is not None:
            row = store.one("SELECT * FROM experiments WHERE project_id = ? AND iid = ?",
                            project_id, number)
    elif name is not None:
        row = store.one("SELECT * FROM experiments WHERE project_id = ? AND name = ?",
                        project_id, name)
    if row is None:
        raise web.not_found_mlflow()
    return row


def experiment_order(order_by: str | None) -> str:
    """`model_order_params` + the finder: an SQL ORDER BY, tie-break `id desc`.

    A blank `order_by` (sent explicitly; absent means the default `created_at DESC`) orders by
    name ascending; no direction means ascending; a bad direction means descending.
    """
    if order_by is None:
        order_by = "created_at DESC"
    if not order_by.strip():
        column, direction = "name", "asc"
    else:
        parts = order_by.lower().split()
        column = "updated_at" if parts[0] == "last_updated_timestamp" else parts[0]
        direction = parts[1] if len(parts) > 1 else "asc"
    if column not in EXPERIMENT_ORDER_COLUMNS:
        column = "id"
    if direction not in ("asc", "desc"):
        direction = "desc"
    return f"{column} {direction.upper()}, id DESC"


def create_experiment(req: web.Request) -> sqlite3.Row:
    """Insert the experiment and its tags in one transaction.

    An invalid experiment (blank or duplicate name) is `RESOURCE_ALREADY_EXISTS`; tags go in
    with `insert_all` (duplicates dropped, database limits only).
    """
    (name,) = required(req, "name")
    name = grape_string(name, "name")
    tags = key_value_items(req.params.get("tags"), "tags")
    grape_string(req.params.get("artifact_location"), "artifact_location")  # ignored
    if not name.strip():
        raise web.mlflow_error("RESOURCE_ALREADY_EXISTS")
    with req.app.store.tx() as db:
        try:
            experiment = insert_experiment(db, req.project["id"], name, req.principal.user_id)
        except sqlite3.IntegrityError:
            raise web.mlflow_error("RESOURCE_ALREADY_EXISTS") from None
        insert_key_values(db, EXPERIMENT_TAGS, experiment["id"], tags)
    return experiment


def delete_experiment(store: Store, experiment: sqlite3.Row) -> None:
    """Hard delete with its runs and their data (GitLab's foreign keys cascade)."""
    if experiment["model_id"] is not None:
        raise web.message_error(400, "Cannot delete an experiment associated to a model")
    with store.tx() as db:
        runs = "SELECT id FROM candidates WHERE experiment_id = ?"
        for table in ("candidate_params", "candidate_tags", "candidate_metrics"):
            db.execute(f"DELETE FROM {table} WHERE candidate_id IN ({runs})", (experiment["id"],))
        db.execute("DELETE FROM candidates WHERE experiment_id = ?", (experiment["id"],))
        db.execute("DELETE FROM experiment_tags WHERE experiment_id = ?", (experiment["id"],))
        db.execute("DELETE FROM experiments WHERE id = ?", (experiment["id"],))


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
        rows = req.app.store.all("SELECT * FROM experiments WHERE project_id = ? ORDER BY id DESC",
                                 req.project["id"])
        return web.Response(200, {"experiments": [render_experiment(req.app.store, row)
                                                  for row in rows]})

    @router.mlflow("POST", "experiments/search")
    def search(req: web.Request) -> web.Response:
        authorize(req)
        grape_integer(req.params.get("max_results"), "max_results")
        order_by = grape_string(req.params.get("order_by"), "order_by")  # an array -> 400
        for name in ("page_token", "filter"):  # `filter` is declared, then ignored
            grape_string(req.params.get(name), name)
        rows = req.app.store.all(f"SELECT * FROM experiments WHERE project_id = ? "
                                 f"ORDER BY {experiment_order(order_by)}", req.project["id"])
        page, token = paginate(rows, req)
        return web.Response(200, {
            "experiments": [render_experiment(req.app.store, row) for row in page],
            "next_page_token": token,
        })

    @router.mlflow("POST", "experiments/create")
    def create(req: web.Request) -> web.Response:
        authorize(req)
        experiment = create_experiment(req)
        return web.Response(200, {"experiment_id": str(experiment["iid"])})

    @router.mlflow("POST", "experiments/set-experiment-tag")
    def set_tag(req: web.Request) -> web.Response:
        authorize(req)
        iid, key, value = (grape_string(v, n) for v, n in zip(
            required(req, "experiment_id", "key", "value"), ("experiment_id", "key", "value"),
            strict=True))
        experiment = find_experiment(req, iid=iid)
        with req.app.store.tx() as db:
            taken = db.execute("SELECT 1 FROM experiment_tags WHERE experiment_id = ? AND key = ?",
                               (experiment["id"], key)).fetchone() is not None
            validate_metadata(key, value, taken)
            db.execute("INSERT INTO experiment_tags (experiment_id, key, value) VALUES (?, ?, ?)",
                       (experiment["id"], key, value))
        return web.Response(200, {})

    @router.mlflow("POST", "experiments/delete")
    def delete(req: web.Request) -> web.Response:
        authorize(req)
        (iid,) = required(req, "experiment_id")
        experiment = find_experiment(req, iid=grape_string(iid, "experiment_id"))
        delete_experiment(req.app.store, experiment)
        return web.Response(200, {})
