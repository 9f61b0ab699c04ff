"""MLflow runs (GitLab: `Ml::Candidate`): the Run entity, create, get, search, update, delete.

`lib/api/ml/mlflow/runs.rb`. Logging params, tags and metrics is in `mlflow_run_data`.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections import defaultdict
from typing import Any

from mlflow_gitlab.sandbox import web
from mlflow_gitlab.sandbox.api.ml_common import insert_candidate, key_values, paginate, required
from mlflow_gitlab.sandbox.api.mlflow_experiments import find_experiment
from mlflow_gitlab.sandbox.api.mlflow_records import (
    RUN_TAGS,
    ar_integer,
    authorize,
    grape_integer,
    grape_string,
    insert_key_values,
    key_value_items,
)
from mlflow_gitlab.sandbox.app import Router
from mlflow_gitlab.sandbox.store import Store, now

RUN_STATUSES = ("RUNNING", "SCHEDULED", "FINISHED", "FAILED", "KILLED")
RUN_ORDER_COLUMNS = ("name", "created_at", "id")  # `Projects::Ml::CandidateFinder`
CI_JOB_TAG = "gitlab.CI_JOB_ID"

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


def _experiment_iids(store: Store, candidates: list[sqlite3.Row]) -> dict[int, int]:
    ids = sorted({c["experiment_id"] for c in candidates})
    marks = ",".join("?" * len(ids))
    rows = store.all(f"SELECT id, iid FROM experiments WHERE id IN ({marks})", *ids)
    return {row["id"]: row["iid"] for row in rows}


def render_metric(row: sqlite3.Row) -> dict[str, Any]:
    """A metric point; `step` is omitted when null."""
    metric = {"key": row["key"], "value": row["value"], "timestamp": row["timestamp"]}
    if row["step"] is not None:
        metric["step"] = row["step"]
    return metric


def _run_data(store: Store, candidate_ids: list[int]) -> dict[int, dict[str, list[Any]]]:
    """`data` of many runs in three queries; metrics = latest point (highest id) per key."""
    data: dict[int, dict[str, list[Any]]] = defaultdict(
        lambda: {"metrics": [], "params": [], "tags": []})
    marks = ",".join("?" * len(candidate_ids))
    metrics = store.all(
        f"SELECT m.* FROM candidate_metrics m WHERE m.id IN (SELECT MAX(id) FROM "
        f"candidate_metrics WHERE candidate_id IN ({marks}) GROUP BY candidate_id, key) "
        f"ORDER BY m.candidate_id, m.key", *candidate_ids)
    for row in metrics:
        data[row["candidate_id"]]["metrics"].append(render_metric(row))
    for table, field in (("candidate_params", "params"), ("candidate_tags", "tags")):
        rows = store.all(f"SELECT * FROM {table} WHERE candidate_id IN ({marks}) ORDER BY id",
                         *candidate_ids)
        for row in rows:
            data[row["candidate_id"]][field].extend(key_values([row]))
    return data


def render_runs(store: Store, candidates: list[sqlite3.Row], base_url: str
                ) -> list[dict[str, Any]]:
    """Run entities (`{"info":..., "data":...}`) for many candidates at once."""
    if not candidates:
        return []
    iids = _experiment_iids(store, candidates)
    data = _run_data(store, [c["id"] for c in candidates])
    return [{"info": _info(c, iids[c["experiment_id"]], base_url), "data": data[c["id"]]}
            for c in candidates]


def render_run(store: Store, candidate: sqlite3.Row, base_url: str) -> dict[str, Any]:
    """One Run entity: `{"info": RunInfo, "data": {"metrics", "params", "tags"}}`."""
    return render_runs(store, [candidate], base_url)[0]


def render_run_info(store: Store, candidate: sqlite3.Row, base_url: str) -> dict[str, Any]:
    """The RunInfo entity alone (what `runs/update` answers)."""
    return _info(candidate, _experiment_iids(store, [candidate])[candidate["experiment_id"]],
                 base_url)


# --- lookups and the CI link --------------------------------------------------------------------


def find_candidate(req: web.Request, run_id: Any) -> sqlite3.Row:
    """The run `run_id` names in this project, else 404 `RESOURCE_DOES_NOT_EXIST`.

    GitLab stores `eid` as a PostgreSQL uuid, so any spelling of the same UUID matches.
    """
    try:
        eid = str(uuid.UUID(str(run_id)))
    except ValueError:
        raise web.not_found_mlflow() from None
    row = req.app.store.one("SELECT * FROM candidates WHERE project_id = ? AND eid = ?",
                            req.project["id"], eid)
    if row is None:
        raise web.not_found_mlflow()
    return row


def link_ci_job(db: sqlite3.Connection, candidate_id: int,
                tags: list[tuple[str | None, str | None]], register: bool = False) -> None:
    """`HandleCandidateGitlabMetadataService`: tag `gitlab.CI_JOB_ID` links the run to a job.

    The last such tag wins; an id naming no job (on any project) raises ArgumentError in GitLab,
    which surfaces as a 500. With `register` (the e2e-only `Settings.register_unknown_jobs`),
    an unknown job is created from the run's tags instead.
    """
    values = [value for key, value in tags if key == CI_JOB_TAG]
    if not values:
        return
    job_id = ar_integer(values[-1])
    job = None if job_id is None else db.execute(
        "SELECT id FROM jobs WHERE id = ?", (job_id,)).fetchone()
    if job is None and register and job_id is not None and job_id > 0:
        from mlflow_gitlab.sandbox.api.admin_ci import register_unknown_job

        register_unknown_job(db, candidate_id, job_id, tags)
        job = {"id": job_id}
    if job is None:
        raise web.message_error(500, "500 Internal Server Error")
    db.execute("UPDATE candidates SET ci_build_id = ?, updated_at = ? WHERE id = ?",
               (job["id"], now(), candidate_id))


def add_tags(db: sqlite3.Connection, candidate_id: int,
             tags: list[tuple[str | None, str | None]], register_jobs: bool = False) -> None:
    """Bulk tags (`runs/create`, `log-batch`): CI link first, then `insert_all`."""
    link_ci_job(db, candidate_id, tags, register_jobs)
    insert_key_values(db, RUN_TAGS, candidate_id, tags)


# --- search ordering --------------------------------------------------------------------------


def run_order(order_by: str | None) -> tuple[str | None, str]:
    """`candidates_order_params` + `CandidateFinder`: (metric key or None, SQL ORDER BY).

    `"<col> [dir]"` with col in name/created_at/id (else created_at), direction default desc;
    `"metrics.<key> [dir]"` orders by the latest value; other prefixes use the default.
    """
    parts = (order_by or "").split()
    if not parts:
        return None, "c.created_at DESC, c.id DESC"
    direction = parts[1].lower() if len(parts) > 1 else "desc"
    direction = direction.upper() if direction in ("asc", "desc") else "DESC"
    column = parts[0].split(".")
    if len(column) > 1 and column[0] == "metrics":
        return column[1], f"latest.value IS NULL, latest.value {direction}, c.id DESC"
    name = column[0] if len(column) == 1 and column[0] in RUN_ORDER_COLUMNS else "created_at"
    return None, f"c.{name} {direction}, c.id DESC"


def search_candidates(store: Store, experiment_id: int, order_by: str | None
                      ) -> list[sqlite3.Row]:
    """The experiment's runs in search order; by a metric, runs without it are left out."""
    metric, order = run_order(order_by)
    if metric is None:
        return store.all(f"SELECT c.* FROM candidates c WHERE c.experiment_id = ? "
                         f"ORDER BY {order}", experiment_id)
    return store.all(
        f"SELECT c.* FROM candidates c JOIN candidate_metrics latest ON latest.id = ("
        f"SELECT MAX(id) FROM candidate_metrics WHERE candidate_id = c.id AND key = ?) "
        f"WHERE c.experiment_id = ? ORDER BY {order}", metric, experiment_id)


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
    if not (run_name or "").strip():
        run_name = next((v for k, v in tags if k == "mlflow.runName"), None)
    # GitLab creates the candidate, then its tags, with no transaction around both
    # (`CandidateRepository#create!`): when the tags fail, the run stays, without them.
    with req.app.store.tx() as db:
        candidate = insert_candidate(db, req.project["id"], experiment["id"], name=run_name,
                                     start_time=start_time, user_id=req.principal.user_id)
    with req.app.store.tx() as db:
        add_tags(db, candidate["id"], tags, req.app.settings.register_unknown_jobs)
        return db.execute("SELECT * FROM candidates WHERE id = ?", (candidate["id"],)).fetchone()


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
    with req.app.store.tx() as db:
        db.execute("UPDATE candidates SET status = COALESCE(?, status), "
                   "end_time = COALESCE(?, end_time), updated_at = ? WHERE id = ?",
                   (status.lower() if status else None, end_time, now(), candidate["id"]))
    return req.app.store.one("SELECT * FROM candidates WHERE id = ?", candidate["id"])


def delete_run(store: Store, candidate: sqlite3.Row) -> None:
    """Hard delete with its params, tags and metrics; a model version's run stays."""
    if candidate["model_version_id"] is not None:
        raise web.message_error(400, "Cannot delete a candidate associated to a model version")
    with store.tx() as db:
        for table in ("candidate_params", "candidate_tags", "candidate_metrics"):
            db.execute(f"DELETE FROM {table} WHERE candidate_id = ?", (candidate["id"],))
        db.execute("DELETE FROM candidates WHERE id = ?", (candidate["id"],))


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
    rows = search_candidates(req.app.store, experiment["id"], order_by)
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
        delete_run(req.app.store, find_candidate(req, grape_string(run_id, "run_id")))
        return web.Response(200, {})
