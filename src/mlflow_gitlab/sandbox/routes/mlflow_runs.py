"""MLflow runs (GitLab: `Ml::Candidate`): the Run entity, create, get, search, update, delete.

`lib/api/ml/mlflow/runs.rb`. Logging params, tags and metrics is in `mlflow_run_data`.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from mlflow_gitlab.sandbox import web
from mlflow_gitlab.sandbox.backend import candidates
from mlflow_gitlab.sandbox.backend.store import Store
from mlflow_gitlab.sandbox.router import Router
from mlflow_gitlab.sandbox.routes.ml_common import key_values, paginate, required
from mlflow_gitlab.sandbox.routes.mlflow_experiments import find_experiment
from mlflow_gitlab.sandbox.routes.mlflow_records import (
    authorize,
    grape_integer,
    grape_string,
    key_value_items,
)

RUN_STATUSES = ("RUNNING", "SCHEDULED", "FINISHED", "FAILED", "KILLED")

# --- the Run entity ---------------------------------------------------------------------------


def artifact_uri(candidate: sqlite3.Row, base_url: str) -> str:
    """`RunInfo#artifact_uri`: model version, then uploaded package, then the default.

    The legacy generic-package form (rule 1) is never produced: the sandbox has no legacy runs.
    """
    packages = f"{base_url}/api/v4/projects/{candidate['project_id']}/packages/ml_models"
    if candidate["model_version_id"] is not None:
        return f"{packages}/{candidate['model_version_id']}/files/"
    if candidate["package_id"] is not None:
        return f"mlflow-artifacts:/candidate:{candidate['iid']}"
    return f"{packages}/candidate:{candidate['iid']}/files/"


def _info(candidate: sqlite3.Row, experiment_iid: int, base_url: str) -> dict[str, Any]:
    info: dict[str, Any] = {
        "run_id": candidate["eid"],
        "run_uuid": candidate["eid"],
        "experiment_id": str(experiment_iid),
        "start_time": candidate["start_time"] or 0,
    }
    if candidate["end_time"] is not None:  # `expose_nil: false`
        info["end_time"] = candidate["end_time"]
    if candidate["name"] is not None:
        info["run_name"] = candidate["name"]
    info.update({
        "status": candidate["status"].upper(),
        "artifact_uri": artifact_uri(candidate, base_url),
        "lifecycle_stage": "active",
        "user_id": "" if candidate["user_id"] is None else str(candidate["user_id"]),
    })
    return info


def render_metric(row: sqlite3.Row) -> dict[str, Any]:
    """A metric point; `step` is omitted when null."""
    metric = {"key": row["key"], "value": row["value"], "timestamp": row["timestamp"]}
    if row["step"] is not None:
        metric["step"] = row["step"]
    return metric


def render_runs(store: Store, rows: list[sqlite3.Row], base_url: str
                ) -> list[dict[str, Any]]:
    """Run entities (`{"info":..., "data":...}`) for many candidates at once."""
    if not rows:
        return []
    iids = candidates.experiment_iids(store, rows)
    data = candidates.run_data(store, [c["id"] for c in rows])
    return [{"info": _info(c, iids[c["experiment_id"]], base_url), "data": {
        "metrics": [render_metric(m) for m in data[c["id"]].metrics],
        "params": key_values(data[c["id"]].params),
        "tags": key_values(data[c["id"]].tags),
    }} for c in rows]


def render_run(store: Store, candidate: sqlite3.Row, base_url: str) -> dict[str, Any]:
    """One Run entity: `{"info": RunInfo, "data": {"metrics", "params", "tags"}}`."""
    return render_runs(store, [candidate], base_url)[0]


def render_run_info(store: Store, candidate: sqlite3.Row, base_url: str) -> dict[str, Any]:
    """The RunInfo entity alone (what `runs/update` answers)."""
    iids = candidates.experiment_iids(store, [candidate])
    return _info(candidate, iids[candidate["experiment_id"]], base_url)


# --- lookups -------------------------------------------------------------------------------------


def find_candidate(req: web.Request, run_id: Any) -> sqlite3.Row:
    """The run `run_id` names in this project, else 404 `RESOURCE_DOES_NOT_EXIST`."""
    return candidates.find_candidate(req.app.store, req.project["id"], run_id)


# --- endpoints ----------------------------------------------------------------------------------


def create_run(req: web.Request) -> sqlite3.Row:
    """`runs/create`: name from `run_name`, else tag `mlflow.runName`, else generated."""
    (experiment_id,) = required(req, "experiment_id")
    experiment_id = grape_integer(experiment_id, "experiment_id")
    start_time = grape_integer(req.params.get("start_time", 0), "start_time")
    run_name = grape_string(req.params.get("run_name"), "run_name")
    grape_string(req.params.get("user_id"), "user_id")  # ignored: the token's user runs it
    tags = key_value_items(req.params.get("tags"), "tags")
    experiment = find_experiment(req, iid=experiment_id)
    return candidates.create_candidate(
        req.app.store, req.project["id"], experiment["id"], name=run_name,
        start_time=start_time, user_id=req.principal.user_id, tags=tags,
        register_jobs=req.app.settings.register_unknown_jobs)


def update_run(req: web.Request) -> sqlite3.Row:
    """`runs/update`: status and end_time only (`run_name` is ignored)."""
    errors = [] if req.params.get("run_id") is not None else ["run_id is missing"]
    status = req.params.get("status")
    if status is not None and status not in RUN_STATUSES:
        errors.append("status does not have a valid value")
    try:
        end_time = grape_integer(req.params.get("end_time"), "end_time")
    except web.ApiError:
        errors.append("end_time is invalid")
    if errors:  # Grape reports every failing parameter at once
        raise web.grape_error(", ".join(errors))
    candidate = find_candidate(req, grape_string(req.params["run_id"], "run_id"))
    return candidates.update_candidate(req.app.store, candidate["id"], status, end_time)


def search_runs(req: web.Request) -> dict[str, Any]:
    """`runs/search`: only `experiment_ids[0]` is searched; `filter` is silently ignored."""
    (experiment_ids,) = required(req, "experiment_ids")
    if not isinstance(experiment_ids, list):
        raise web.grape_error("experiment_ids is invalid")
    grape_integer(req.params.get("max_results"), "max_results")
    order_by = grape_string(req.params.get("order_by"), "order_by")  # an array -> 400
    grape_string(req.params.get("page_token"), "page_token")
    if not experiment_ids:
        raise web.not_found_mlflow()
    experiment = find_experiment(req, iid=experiment_ids[0])
    rows = candidates.list_candidates(req.app.store, experiment["id"], order_by)
    page, token = paginate(rows, req)
    return {"runs": render_runs(req.app.store, page, req.app.base_url), "next_page_token": token}


def register(router: Router) -> None:
    """Register the run lifecycle endpoints."""

    @router.mlflow("POST", "runs/create")
    def create(req: web.Request) -> web.Response:
        authorize(req)
        return web.Response(200, {"run": render_run(req.app.store, create_run(req),
                                                    req.app.base_url)})

    @router.mlflow("GET", "runs/get")
    def get(req: web.Request) -> web.Response:
        authorize(req)
        (run_id,) = required(req, "run_id")
        candidate = find_candidate(req, grape_string(run_id, "run_id"))
        return web.Response(200, {"run": render_run(req.app.store, candidate, req.app.base_url)})

    @router.mlflow("POST", "runs/search")
    def search(req: web.Request) -> web.Response:
        authorize(req)
        return web.Response(200, search_runs(req))

    @router.mlflow("POST", "runs/update")
    def update(req: web.Request) -> web.Response:
        authorize(req)
        candidate = update_run(req)
        return web.Response(200, {"run_info": render_run_info(req.app.store, candidate,
                                                              req.app.base_url)})

    @router.mlflow("POST", "runs/delete")
    def delete(req: web.Request) -> web.Response:
        authorize(req)
        (run_id,) = required(req, "run_id")
        candidate = find_candidate(req, grape_string(run_id, "run_id"))
        candidates.delete_candidate(req.app.store, candidate)
        return web.Response(200, {})
