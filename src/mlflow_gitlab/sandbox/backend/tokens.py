"""Callers and their tokens: personal, project and job access tokens resolved to a Principal."""

from __future__ import annotations

from dataclasses import dataclass

from mlflow_gitlab.sandbox.backend.store import Store


@dataclass(frozen=True)
class Principal:
    """An authenticated caller."""

    user_id: int
    username: str
    token_kind: str  # personal | project | job | deploy (then no user: `user_id` 0)
    scopes: frozenset[str]
    job_id: int | None = None
    project_id: int | None = None  # the job's project, for job tokens


def find_principal(store: Store, value: str | None, kinds: tuple[str, ...]) -> Principal | None:
    """The caller a live token of one of `kinds` stands for, else None.

    A job token lives only while its job runs, and carries the job's project.
    """
    if not value:
        return None
    row = store.one("SELECT t.*, u.username FROM tokens t JOIN users u ON u.id = t.user_id "
                    "WHERE t.value = ? AND t.revoked = 0", value)
    if row is None or row["kind"] not in kinds:
        return None
    project_id = None
    if row["kind"] == "job":
        job = store.one("SELECT status, project_id FROM jobs WHERE id = ?", row["job_id"])
        if job is None or job["status"] != "running":
            return None
        project_id = job["project_id"]
    return Principal(row["user_id"], row["username"], row["kind"],
                     frozenset(row["scopes"].split()), row["job_id"], project_id)
