"""Projects and their members: lookup by id or path, and the caller's role on one."""

from __future__ import annotations

import sqlite3
from urllib.parse import unquote

from mlflow_gitlab.sandbox.backend.deploy_tokens import READ_PACKAGES, WRITE_PACKAGES
from mlflow_gitlab.sandbox.backend.store import Store
from mlflow_gitlab.sandbox.backend.tokens import Principal

GUEST, REPORTER, DEVELOPER, MAINTAINER, OWNER = 10, 20, 30, 40, 50
UPDATABLE = frozenset({"description"})  # what `PUT /projects/:id` changes in the sandbox


def find_project(store: Store, ref: str) -> sqlite3.Row | None:
    """A project by numeric id or by its URL-encoded full path."""
    if ref.isdigit():
        return store.one("SELECT * FROM projects WHERE id = ?", int(ref))
    return store.one("SELECT * FROM projects WHERE path = ?", unquote(ref))


def project_at_path(store: Store, path: str) -> sqlite3.Row | None:
    """A project by its full path (`group/project`), as web pages address it."""
    return store.one("SELECT * FROM projects WHERE path = ?", path)


def get_project(store: Store, project_id: int) -> sqlite3.Row | None:
    """A project row by id."""
    return store.one("SELECT * FROM projects WHERE id = ?", project_id)


def list_projects(store: Store) -> list[sqlite3.Row]:
    """Every project, by id."""
    return store.all("SELECT * FROM projects ORDER BY id")


def update_project(store: Store, project_id: int, changes: dict[str, str]) -> sqlite3.Row:
    """Set the project's columns in `UPDATABLE` that `changes` names."""
    with store.tx() as db:
        for column in UPDATABLE & changes.keys():
            db.execute(f"UPDATE projects SET {column} = ? WHERE id = ?",
                       (changes[column], project_id))
    project = get_project(store, project_id)
    assert project is not None
    return project


def access_level(store: Store, project: sqlite3.Row, principal: Principal | None) -> int:
    """The caller's role on `project` (0 for none); a job token acts as its pipeline's user."""
    if principal is None:
        return 0
    if principal.token_kind == "job" and principal.project_id != project["id"]:
        return 0  # no allowlist in the sandbox: a job token reaches only its own project
    if principal.token_kind == "deploy":  # no user: its scopes stand for a role
        if principal.project_id != project["id"]:
            return 0
        return (DEVELOPER if WRITE_PACKAGES in principal.scopes
                else REPORTER if READ_PACKAGES in principal.scopes else 0)
    row = store.one(
        "SELECT access_level FROM members WHERE project_id = ? AND user_id = ?",
        project["id"], principal.user_id,
    )
    return row["access_level"] if row else 0
