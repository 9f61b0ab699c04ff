"""Deploy tokens: project credentials for the package registry, not tied to a user.

GitLab names them `gitlab+deploy-token-<id>` and prefixes the secret with `gldt-`; clients
send them as HTTP Basic credentials or in a `DEPLOY-TOKEN` header (`app/models/deploy_token.rb`).
"""

from __future__ import annotations

import secrets
import sqlite3
from dataclasses import dataclass

from mlflow_gitlab.sandbox.backend.store import Store

READ_PACKAGES, WRITE_PACKAGES = "read_package_registry", "write_package_registry"


@dataclass(frozen=True)
class DeployToken:
    """A live deploy token of one project."""

    username: str
    project_id: int
    scopes: frozenset[str]


def create(store: Store, project_id: int, scopes: tuple[str, ...] = (READ_PACKAGES,)
           ) -> dict[str, str]:
    """A new deploy token of `project_id`: `{"username", "token"}`."""
    value = "gldt-" + secrets.token_urlsafe(20)
    with store.tx() as db:
        cur = db.execute("INSERT INTO deploy_tokens (project_id, username, value, scopes) "
                         "VALUES (?, '', ?, ?)", (project_id, value, " ".join(scopes)))
        username = f"gitlab+deploy-token-{cur.lastrowid}"
        db.execute("UPDATE deploy_tokens SET username = ? WHERE id = ?",
                   (username, cur.lastrowid))
    return {"username": username, "token": value}


def ensure_seeded(store: Store, project_id: int) -> dict[str, str]:
    """The first deploy token of `project_id` (read-only), created if there is none."""
    row = store.one("SELECT username, value FROM deploy_tokens WHERE project_id = ? "
                    "ORDER BY id LIMIT 1", project_id)
    if row is None:
        return create(store, project_id)
    return {"username": row["username"], "token": row["value"]}


def find(store: Store, value: str) -> DeployToken | None:
    """The live deploy token with this secret, if any (`DeployToken.active.find_by_token`:
    the username a client sends with it is not checked)."""
    row: sqlite3.Row | None = store.one(
        "SELECT * FROM deploy_tokens WHERE value = ? AND revoked = 0", value) if value else None
    if row is None:
        return None
    return DeployToken(row["username"], row["project_id"], frozenset(row["scopes"].split()))
