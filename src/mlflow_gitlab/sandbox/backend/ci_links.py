"""Where a run came from: its CI job, that job's pipeline and merge request, and its user.

As GitLab's pages do (`app/presenters/ml/candidate_details_presenter.rb`), the link is the
candidate's `ci_build` (set from its `gitlab.CI_JOB_ID` tag): the user shown is the job's,
and the merge request is the pipeline's. A run from no job shows its own user.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass

from mlflow_gitlab.sandbox.backend.store import Store

_MR_REF = re.compile(r"refs/merge-requests/(\d+)/(?:head|merge|train)\Z")


@dataclass(frozen=True)
class CiLink:
    """A run's CI records; each None when the run has none (or it is gone)."""

    job: sqlite3.Row | None = None
    pipeline: sqlite3.Row | None = None
    merge_request: sqlite3.Row | None = None
    user: sqlite3.Row | None = None
    project_path: str | None = None  # of the job, whose id is instance-wide


def _by_id(store: Store, table: str, ids: Iterable[int | None]) -> dict[int, sqlite3.Row]:
    wanted = sorted({i for i in ids if i is not None})
    if not wanted:
        return {}
    marks = ",".join("?" * len(wanted))
    return {row["id"]: row for row in
            store.all(f"SELECT * FROM {table} WHERE id IN ({marks})", *wanted)}


def users_by_id(store: Store, ids: Iterable[int | None]) -> dict[int, sqlite3.Row]:
    """User id -> user row (`username`, `name`), for the ids given."""
    return _by_id(store, "users", ids)


def merge_request_of(store: Store, pipeline: sqlite3.Row | None) -> sqlite3.Row | None:
    """The merge request a pipeline ran for, told by its `refs/merge-requests/<iid>/...` ref."""
    match = _MR_REF.fullmatch(pipeline["ref"]) if pipeline is not None else None
    if match is None:
        return None
    return store.one("SELECT * FROM merge_requests WHERE project_id = ? AND iid = ?",
                     pipeline["project_id"], int(match[1]))


def ci_links(store: Store, candidates: list[sqlite3.Row]) -> dict[int, CiLink]:
    """Candidate row id -> its `CiLink`, for many candidates in a few queries."""
    jobs = _by_id(store, "jobs", (c["ci_build_id"] for c in candidates))
    pipelines = _by_id(store, "pipelines", (j["pipeline_id"] for j in jobs.values()))
    requests = {pid: merge_request_of(store, p) for pid, p in pipelines.items()}
    projects = _by_id(store, "projects", (j["project_id"] for j in jobs.values()))
    users = users_by_id(store, [*(j["user_id"] for j in jobs.values()),
                                *(c["user_id"] for c in candidates)])
    links = {}
    for candidate in candidates:
        job = jobs.get(candidate["ci_build_id"]) if candidate["ci_build_id"] else None
        if job is None:
            links[candidate["id"]] = CiLink(user=users.get(candidate["user_id"]))
            continue
        pipeline = pipelines.get(job["pipeline_id"])
        project = projects.get(job["project_id"])
        links[candidate["id"]] = CiLink(
            job=job, pipeline=pipeline, user=users.get(job["user_id"]),
            merge_request=requests.get(job["pipeline_id"]) if pipeline is not None else None,
            project_path=project["path"] if project is not None else None)
    return links
