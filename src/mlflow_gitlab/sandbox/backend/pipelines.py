"""Pipelines (GitLab: `Ci::Pipeline`): the finder's filters and order, lookups, and staging.

GitLab creates pipelines from pushes; the sandbox stages them through its control routes,
and (e2e only) from the `gitlab.*` tags of a run naming an unknown job (`register_unknown_job`).
"""

from __future__ import annotations

import secrets
import sqlite3
from dataclasses import dataclass

from mlflow_gitlab.sandbox.backend.store import Store, next_iid, now

# Pipeline and job `status`; `canceling` is newer (unverified) but accepted.
STATUSES = ("created", "waiting_for_resource", "preparing", "pending", "running", "success",
            "failed", "canceled", "canceling", "skipped", "manual", "scheduled")
FINISHED = ("success", "failed", "canceled", "skipped")
STARTED = ("running", "success", "failed", "canceled", "canceling")  # have a started_at
# `source` = the CI_PIPELINE_SOURCE vocabulary.
SOURCES = ("push", "merge_request_event", "schedule", "web", "api", "trigger", "pipeline",
           "parent_pipeline", "chat", "external", "external_pull_request_event", "webide",
           "ondemand_dast_scan", "ondemand_dast_validation", "security_orchestration_policy")
SCOPES = ("running", "pending", "finished", "branches", "tags")
ORDER_COLUMNS = ("id", "status", "ref", "updated_at", "user_id")  # ALLOWED_INDEXED_COLUMNS


@dataclass
class PipelineFilter:
    """`Ci::PipelinesFinder`'s parameters (values already validated); times are epoch seconds."""

    scope: str | None = None
    status: str | None = None
    source: str | None = None
    ref: str | None = None
    sha: str | None = None
    name: str | None = None
    username: str | None = None
    order_by: str = "id"
    sort: str = "desc"
    updated_after: float | None = None
    updated_before: float | None = None
    created_after: float | None = None
    created_before: float | None = None


def list_pipelines(store: Store, project_id: int, where: PipelineFilter | None = None
                   ) -> list[sqlite3.Row]:
    """The project's pipelines as the finder lists them (default: newest first, no children)."""
    f = where or PipelineFilter()
    conditions, args = ["p.project_id = ?"], [project_id]
    for column, value in (("p.status", f.status), ("p.ref", f.ref), ("p.sha", f.sha),
                          ("p.name", f.name), ("u.username", f.username)):
        if value is not None:
            conditions.append(f"{column} = ?")
            args.append(value)
    # Child pipelines are listed only when asked for by source.
    conditions.append("p.source = ?" if f.source else "p.source != 'parent_pipeline'")
    if f.source:
        args.append(f.source)
    for name, op in (("updated_after", ">"), ("updated_before", "<"),
                     ("created_after", ">"), ("created_before", "<")):
        bound = getattr(f, name)
        if bound is not None:
            conditions.append(f"p.{name.split('_')[0]}_at {op} ?")
            args.append(bound)
    conditions.append(_scope_condition(f.scope, children=f.source == "parent_pipeline"))
    order_by = f.order_by if f.order_by in ORDER_COLUMNS else "id"
    sort = "asc" if f.sort == "asc" else "desc"
    sql = (f"SELECT p.* FROM pipelines p LEFT JOIN users u ON u.id = p.user_id "
           f"WHERE {' AND '.join(conditions)} ORDER BY p.{order_by} {sort}, p.id {sort}")
    return store.all(sql, *args)


def _scope_condition(scope: str | None, *, children: bool) -> str:
    """`running`/`pending` by status, `finished` by the finished statuses, `branches`/`tags`
    the latest listed pipeline of each branch or tag (an MR's `refs/merge-requests/...` is
    neither; child pipelines count only when they are listed)."""
    if scope in ("running", "pending"):
        return f"p.status = '{scope}'"
    if scope == "finished":
        return "p.status IN (" + ", ".join(f"'{s}'" for s in FINISHED) + ")"
    if scope in ("branches", "tags"):
        tag = int(scope == "tags")
        same_kind = "1 = 1" if children else "q.source != 'parent_pipeline'"
        return (f"p.tag = {tag} AND p.ref NOT LIKE 'refs/%' AND p.id = (SELECT MAX(q.id) "
                f"FROM pipelines q WHERE q.project_id = p.project_id AND q.ref = p.ref "
                f"AND q.tag = {tag} AND {same_kind})")
    return "1 = 1"


def find_pipeline(store: Store, project_id: int, pipeline_id: int) -> sqlite3.Row | None:
    """A pipeline of the project by id."""
    return store.one("SELECT * FROM pipelines WHERE id = ? AND project_id = ?",
                     pipeline_id, project_id)


def get_pipeline(store: Store, pipeline_id: int) -> sqlite3.Row | None:
    """A pipeline by id, on any project."""
    return store.one("SELECT * FROM pipelines WHERE id = ?", pipeline_id)


def head_pipeline(store: Store, project_id: int, sha: str, refs: tuple[str, ...]
                  ) -> sqlite3.Row | None:
    """The newest pipeline for commit `sha` on one of `refs`."""
    marks = ", ".join("?" * len(refs))
    return store.one(f"SELECT * FROM pipelines WHERE project_id = ? AND sha = ? AND ref IN "
                     f"({marks}) ORDER BY id DESC LIMIT 1", project_id, sha, *refs)


def times(status: str, t: float) -> tuple[float | None, float | None]:
    """(started_at, finished_at) for a pipeline or job entering `status` at `t`."""
    return (t if status in STARTED else None), (t if status in FINISHED else None)


def new_sha() -> str:
    """A random commit SHA (the sandbox has no repository)."""
    return secrets.token_hex(20)


def insert_pipeline(db: sqlite3.Connection, project_id: int, *, pipeline_id: int | None,
                    sha: str, ref: str, tag: bool, status: str, source: str,
                    user_id: int | None, name: str | None) -> tuple[int, int]:
    """A new pipeline with the next per-project iid: (id, iid)."""
    t = now()
    iid = next_iid(db, "pipelines", project_id)
    cur = db.execute(
        "INSERT INTO pipelines (id, project_id, iid, sha, ref, tag, status, source, user_id, "
        "name, created_at, updated_at, started_at, finished_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (pipeline_id, project_id, iid, sha, ref, int(tag), status, source, user_id, name,
         t, t, *times(status, t)))
    return int(cur.lastrowid), iid


def register_unknown_job(db: sqlite3.Connection, candidate_id: int, job_id: int,
                         tags: list[tuple[str | None, str | None]]) -> None:
    """Create job `job_id` (and its pipeline when missing) from a run's `gitlab.*` tags.

    A deliberate deviation for end-to-end tests only (docs/sandbox.md): runners such as
    gitlab-ci-local pick job ids nobody can register in advance. The job joins the pipeline
    named by `gitlab.CI_PIPELINE_ID`, which is created if the project lacks it.
    """
    candidate = db.execute("SELECT project_id, user_id FROM candidates WHERE id = ?",
                           (candidate_id,)).fetchone()
    stored = db.execute("SELECT key, value FROM candidate_tags WHERE candidate_id = ?",
                        (candidate_id,)).fetchall()
    info = {**{row["key"]: row["value"] for row in stored},
            **{k: v for k, v in tags if k is not None and v is not None}}
    project_id, user_id = candidate["project_id"], candidate["user_id"]
    project = db.execute("SELECT default_branch FROM projects WHERE id = ?",
                         (project_id,)).fetchone()
    ref = info.get("gitlab.CI_COMMIT_REF_NAME") or project["default_branch"]
    wanted = info.get("gitlab.CI_PIPELINE_ID", "")
    pipeline = db.execute("SELECT id FROM pipelines WHERE id = ? AND project_id = ?",
                          (int(wanted) if wanted.isdigit() else -1, project_id)).fetchone()
    t = now()
    if pipeline is None:
        free = wanted.isdigit() and db.execute(
            "SELECT 1 FROM pipelines WHERE id = ?", (int(wanted),)).fetchone() is None
        source = info.get("gitlab.CI_PIPELINE_SOURCE")
        cur = db.execute(
            "INSERT INTO pipelines (id, project_id, iid, sha, ref, status, source, user_id, "
            "created_at, updated_at, started_at) VALUES (?, ?, ?, ?, ?, 'running', ?, ?, ?, ?, ?)",
            (int(wanted) if free else None, project_id, next_iid(db, "pipelines", project_id),
             info.get("mlflow.source.git.commit") or new_sha(), ref,
             source if source in SOURCES else "push", user_id, t, t, t))
        pipeline_id = int(cur.lastrowid)
    else:
        pipeline_id = pipeline["id"]
    db.execute("INSERT INTO jobs (id, project_id, pipeline_id, name, stage, status, ref, "
               "user_id, created_at, started_at) VALUES (?, ?, ?, ?, ?, 'running', ?, ?, ?, ?)",
               (job_id, project_id, pipeline_id, info.get("gitlab.CI_JOB_NAME") or "job",
                info.get("gitlab.CI_JOB_STAGE") or "test", ref, user_id, t, t))
