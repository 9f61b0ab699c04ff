"""Candidates (MLflow runs, GitLab: `Ml::Candidate`) and their params, metrics and tags.

Reads return sqlite3 Rows: a candidate row, its `RunData` (latest metric point per key,
params, tags) and a metric's full history. Writes keep GitLab's transaction boundaries.
"""

from __future__ import annotations

import random
import sqlite3
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from mlflow_gitlab.sandbox.backend.errors import Broken, NotFound, Refused
from mlflow_gitlab.sandbox.backend.pipelines import register_unknown_job
from mlflow_gitlab.sandbox.backend.records import RUN_TAGS, ar_integer, insert_key_values
from mlflow_gitlab.sandbox.backend.store import Store, next_iid, now

ORDER_COLUMNS = ("name", "created_at", "id")  # `Projects::Ml::CandidateFinder`
CI_JOB_TAG = "gitlab.CI_JOB_ID"
Items = list[tuple[str | None, str | None]]

_ADJECTIVES = ("brave", "calm", "eager", "gentle", "lively", "proud", "silly", "witty")
_ANIMALS = ("otter", "heron", "lynx", "panda", "koala", "bison", "gecko", "ibis", "yak")


@dataclass
class RunData:
    """A candidate's data: the latest point of each metric (by key), params and tags."""

    metrics: list[sqlite3.Row] = field(default_factory=list)
    params: list[sqlite3.Row] = field(default_factory=list)
    tags: list[sqlite3.Row] = field(default_factory=list)


def random_run_name() -> str:
    """GitLab's generated run name shape: `animal-animal-animal-1234`-like."""
    rng = random.SystemRandom()
    return f"{rng.choice(_ADJECTIVES)}-{rng.choice(_ANIMALS)}-{rng.choice(_ANIMALS)}-" \
           f"{rng.randint(1000, 9999)}"


def insert_candidate(db: sqlite3.Connection, project_id: int, experiment_id: int, *,
                     name: str | None, start_time: int | None, user_id: int | None,
                     status: str = "running") -> sqlite3.Row:
    """Create a run (GitLab: candidate) with a UUID eid and the next per-project iid."""
    t = now()
    cur = db.execute(
        "INSERT INTO candidates (project_id, experiment_id, iid, eid, name, status, "
        "start_time, user_id, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (project_id, experiment_id, next_iid(db, "candidates", project_id), str(uuid.uuid4()),
         name or random_run_name(), status, start_time, user_id, t, t))
    return db.execute("SELECT * FROM candidates WHERE id = ?", (cur.lastrowid,)).fetchone()


# --- reads --------------------------------------------------------------------------------


def find_candidate(store: Store, project_id: int, run_id: Any) -> sqlite3.Row:
    """The run `run_id` names in this project, else NotFound.

    GitLab stores `eid` as a PostgreSQL uuid, so any spelling of the same UUID matches.
    """
    try:
        eid = str(uuid.UUID(str(run_id)))
    except ValueError:
        raise NotFound() from None
    row = store.one("SELECT * FROM candidates WHERE project_id = ? AND eid = ?",
                    project_id, eid)
    if row is None:
        raise NotFound()
    return row


def get_candidate(store: Store, candidate_id: int) -> sqlite3.Row | None:
    """A candidate by row id."""
    return store.one("SELECT * FROM candidates WHERE id = ?", candidate_id)


def find_candidate_by_iid(store: Store, project_id: int, iid: int) -> sqlite3.Row | None:
    """A candidate by its per-project iid (`candidate:<iid>` in package and page URLs)."""
    return store.one("SELECT * FROM candidates WHERE project_id = ? AND iid = ?",
                     project_id, iid)


def child_candidates(store: Store, candidate: sqlite3.Row) -> list[sqlite3.Row]:
    """The runs whose `mlflow.parentRunId` tag names this run (either UUID spelling), oldest
    first."""
    return store.all(
        "SELECT c.* FROM candidates c JOIN candidate_tags t ON t.candidate_id = c.id "
        "WHERE c.project_id = ? AND t.key = 'mlflow.parentRunId' AND t.value IN (?, ?) "
        "ORDER BY c.id", candidate["project_id"], candidate["eid"],
        candidate["eid"].replace("-", ""))


def experiment_iids(store: Store, candidates: list[sqlite3.Row]) -> dict[int, int]:
    """Experiment row id -> its iid, for the experiments of `candidates`."""
    ids = sorted({c["experiment_id"] for c in candidates})
    marks = ",".join("?" * len(ids))
    rows = store.all(f"SELECT id, iid FROM experiments WHERE id IN ({marks})", *ids)
    return {row["id"]: row["iid"] for row in rows}


def run_data(store: Store, candidate_ids: list[int]) -> dict[int, RunData]:
    """`RunData` of many candidates in three queries; metrics = latest point (highest id)."""
    data: dict[int, RunData] = defaultdict(RunData)
    if not candidate_ids:
        return data
    marks = ",".join("?" * len(candidate_ids))
    metrics = store.all(
        f"SELECT m.* FROM candidate_metrics m WHERE m.id IN (SELECT MAX(id) FROM "
        f"candidate_metrics WHERE candidate_id IN ({marks}) GROUP BY candidate_id, key) "
        f"ORDER BY m.candidate_id, m.key", *candidate_ids)
    for row in metrics:
        data[row["candidate_id"]].metrics.append(row)
    for table, name in (("candidate_params", "params"), ("candidate_tags", "tags")):
        rows = store.all(f"SELECT * FROM {table} WHERE candidate_id IN ({marks}) ORDER BY id",
                         *candidate_ids)
        for row in rows:
            getattr(data[row["candidate_id"]], name).append(row)
    return data


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
    name = column[0] if len(column) == 1 and column[0] in ORDER_COLUMNS else "created_at"
    return None, f"c.{name} {direction}, c.id DESC"


def list_candidates(store: Store, experiment_id: int, order_by: str | None = None
                    ) -> list[sqlite3.Row]:
    """The experiment's runs in search order (default newest first); by a metric
    (`metrics.<key> desc`), runs without it are left out."""
    metric, order = run_order(order_by)
    if metric is None:
        return store.all(f"SELECT c.* FROM candidates c WHERE c.experiment_id = ? "
                         f"ORDER BY {order}", experiment_id)
    return store.all(
        f"SELECT c.* FROM candidates c JOIN candidate_metrics latest ON latest.id = ("
        f"SELECT MAX(id) FROM candidate_metrics WHERE candidate_id = c.id AND key = ?) "
        f"WHERE c.experiment_id = ? ORDER BY {order}", metric, experiment_id)


def metric_history(store: Store, candidate_id: int, key: str) -> list[sqlite3.Row]:
    """Every point of one metric, by step then timestamp (nulls last)."""
    return store.all(
        "SELECT * FROM candidate_metrics WHERE candidate_id = ? AND key = ? ORDER BY "
        "step IS NULL, step, timestamp IS NULL, timestamp, id", candidate_id, key)


# --- the CI link --------------------------------------------------------------------------


def link_ci_job(db: sqlite3.Connection, candidate_id: int, tags: Items,
                register: bool = False) -> None:
    """`HandleCandidateGitlabMetadataService`: tag `gitlab.CI_JOB_ID` links the run to a job.

    The last such tag wins; an id naming no job (on any project) raises ArgumentError in GitLab
    (`Broken`). With `register` (the e2e-only `Settings.register_unknown_jobs`), an unknown
    job is created from the run's tags instead.
    """
    values = [value for key, value in tags if key == CI_JOB_TAG]
    if not values:
        return
    job_id = ar_integer(values[-1])
    job = None if job_id is None else db.execute(
        "SELECT id FROM jobs WHERE id = ?", (job_id,)).fetchone()
    if job is None and register and job_id is not None and job_id > 0:
        register_unknown_job(db, candidate_id, job_id, tags)
        job = {"id": job_id}
    if job is None:
        raise Broken()
    db.execute("UPDATE candidates SET ci_build_id = ?, updated_at = ? WHERE id = ?",
               (job["id"], now(), candidate_id))


def add_tags(db: sqlite3.Connection, candidate_id: int, tags: Items,
             register_jobs: bool = False) -> None:
    """Bulk tags (`runs/create`, `log-batch`): CI link first, then `insert_all`."""
    link_ci_job(db, candidate_id, tags, register_jobs)
    insert_key_values(db, RUN_TAGS, candidate_id, tags)


# --- writes -------------------------------------------------------------------------------


def create_candidate(store: Store, project_id: int, experiment_id: int, *, name: str | None,
                     start_time: int | None, user_id: int | None, tags: Items,
                     register_jobs: bool = False) -> sqlite3.Row:
    """`runs/create`: the candidate, then its tags, with no transaction around both
    (`CandidateRepository#create!`): when the tags fail, the run stays, without them."""
    if not (name or "").strip():
        name = next((v for k, v in tags if k == "mlflow.runName"), None)
    with store.tx() as db:
        candidate = insert_candidate(db, project_id, experiment_id, name=name,
                                     start_time=start_time, user_id=user_id)
    with store.tx() as db:
        add_tags(db, candidate["id"], tags, register_jobs)
        return db.execute("SELECT * FROM candidates WHERE id = ?", (candidate["id"],)).fetchone()


def update_candidate(store: Store, candidate_id: int, status: str | None,
                     end_time: int | None) -> sqlite3.Row:
    """Set status (lowercased) and end time, each only when given."""
    with store.tx() as db:
        db.execute("UPDATE candidates SET status = COALESCE(?, status), "
                   "end_time = COALESCE(?, end_time), updated_at = ? WHERE id = ?",
                   (status.lower() if status else None, end_time, now(), candidate_id))
    return store.one("SELECT * FROM candidates WHERE id = ?", candidate_id)


def delete_candidate(store: Store, candidate: sqlite3.Row) -> None:
    """Hard delete with its params, tags and metrics; a model version's run stays."""
    if candidate["model_version_id"] is not None:
        raise Refused("Cannot delete a candidate associated to a model version")
    with store.tx() as db:
        for table in ("candidate_params", "candidate_tags", "candidate_metrics"):
            db.execute(f"DELETE FROM {table} WHERE candidate_id = ?", (candidate["id"],))
        db.execute("DELETE FROM candidates WHERE id = ?", (candidate["id"],))


def candidates_of_jobs(store: Store, job_ids: list[int]) -> list[sqlite3.Row]:
    """The runs linked to any of these CI jobs (their `ci_build`), oldest first."""
    if not job_ids:
        return []
    marks = ",".join("?" * len(job_ids))
    return store.all(f"SELECT * FROM candidates WHERE ci_build_id IN ({marks}) ORDER BY id",
                     *job_ids)
