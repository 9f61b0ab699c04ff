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


def job_token(store: Store, job_id: int) -> str | None:
    """The job token GitLab hands job `job_id`'s runner (`CI_JOB_TOKEN`), live or not."""
    row = store.one("SELECT value FROM tokens WHERE kind = 'job' AND job_id = ? AND revoked = 0 "
                    "ORDER BY id DESC LIMIT 1", job_id)
    return row["value"] if row else None


def access_token(store: Store, key: str) -> str | None:
    """The access token labelled `key`: a seed key (`developer`, `maintainer`, ...) or the
    bot name of a project token made later."""
    row = store.one("SELECT value FROM tokens WHERE label = ? AND kind != 'job' AND revoked = 0 "
                    "ORDER BY id LIMIT 1", key)
    return row["value"] if row else None


def access_token_keys(store: Store) -> list[str]:
    """The labels of the access tokens, oldest first (the seed's keys come first)."""
    return [row["label"] for row in store.all(
        "SELECT label FROM tokens WHERE kind != 'job' AND label IS NOT NULL ORDER BY id")]
