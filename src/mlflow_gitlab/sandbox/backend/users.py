"""Users: lookups by id, and the seed's names for them (a token key or a username)."""

from __future__ import annotations

import sqlite3

from mlflow_gitlab.sandbox.backend.store import Store


def get_user(store: Store, user_id: int | None) -> sqlite3.Row | None:
    """A user by id (None for no id)."""
    if user_id is None:
        return None
    return store.one("SELECT * FROM users WHERE id = ?", user_id)


def user_id_named(db: sqlite3.Connection, name: str) -> int | None:
    """The user a seed token key (`developer`, `maintainer`, ...) or a username names."""
    row = db.execute("SELECT user_id FROM tokens WHERE label = ? AND kind != 'job'",
                     (name,)).fetchone()
    row = row or db.execute("SELECT id FROM users WHERE username = ?", (name,)).fetchone()
    return None if row is None else int(row[0])
