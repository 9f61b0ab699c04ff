"""Merge requests and their notes: the finder's filters, lookups, the head pipeline, creation.

The sandbox has no repository: an MR is staged through the control routes with its head
and base commits, and merging it records who merged it and the merge commit.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any

from mlflow_gitlab.sandbox.backend.store import Store, next_iid, now

STATES = ("opened", "closed", "locked", "merged", "all")
ORDER_BY = ("created_at", "updated_at", "title")
NOTE_ORDER_BY = ("created_at", "updated_at")
ACTIVITY_FILTERS = {"all_notes": "1 = 1", "only_comments": "system = 0",
                    "only_activity": "system = 1"}


@dataclass(frozen=True)
class MergeRequestFilter:
    """`MergeRequestsFinder`'s parameters (values already validated)."""

    state: str = "all"
    order_by: str = "created_at"
    sort: str = "desc"
    source_branch: str | None = None
    target_branch: str | None = None
    author_username: str | None = None
    iids: list[int] | None = None
    labels: str | None = None  # a comma list, all wanted; or `None` / `Any`


def list_merge_requests(store: Store, project_id: int, where: MergeRequestFilter | None = None
                        ) -> list[sqlite3.Row]:
    """The project's MRs as the finder lists them (default: all states, newest first)."""
    f = where or MergeRequestFilter()
    conditions, args = ["m.project_id = ?"], [project_id]
    if f.state != "all":
        conditions.append("m.state = ?")
        args.append(f.state)
    for column, value in (("m.source_branch", f.source_branch),
                          ("m.target_branch", f.target_branch),
                          ("u.username", f.author_username)):
        if value is not None:
            conditions.append(f"{column} = ?")
            args.append(value)
    if f.iids is not None:
        conditions.append(f"m.iid IN ({', '.join('?' * len(f.iids))})")
        args.extend(f.iids)
    order_by = f.order_by if f.order_by in ORDER_BY else "created_at"
    sort = "asc" if f.sort == "asc" else "desc"
    rows = store.all(
        "SELECT m.* FROM merge_requests m LEFT JOIN users u ON u.id = m.author_id "
        f"WHERE {' AND '.join(conditions)} ORDER BY m.{order_by} {sort}, m.id {sort}", *args)
    return [r for r in rows if has_labels(r, f.labels)]


def has_labels(mr: sqlite3.Row, wanted: str | None) -> bool:
    """The `labels` filter: all of a comma list, or `None` / `Any` (case-insensitive)."""
    if wanted is None or wanted == "":
        return True
    labels = json.loads(mr["labels"])
    if wanted.lower() == "none":
        return not labels
    if wanted.lower() == "any":
        return bool(labels)
    return all(label.strip() in labels for label in wanted.split(","))


def find_merge_request(store: Store, project_id: int, iid: int) -> sqlite3.Row | None:
    """An MR of the project by iid, if any."""
    return store.one("SELECT * FROM merge_requests WHERE project_id = ? AND iid = ?",
                     project_id, iid)


def merge_of(store: Store, mr: sqlite3.Row) -> sqlite3.Row | None:
    """How the MR was merged (commit, who, when), if it was."""
    return store.one("SELECT * FROM merge_request_merges WHERE merge_request_id = ?", mr["id"])


def head_pipeline(store: Store, mr: sqlite3.Row) -> sqlite3.Row | None:
    """The newest pipeline for the MR's head commit, on its branch or its MR ref."""
    return store.one(
        "SELECT * FROM pipelines WHERE project_id = ? AND sha = ? AND ref IN (?, ?) "
        "ORDER BY id DESC LIMIT 1",
        mr["source_project_id"], mr["sha"], mr["source_branch"],
        f"refs/merge-requests/{mr['iid']}/head")


def pipelines_of(store: Store, mr: sqlite3.Row) -> list[sqlite3.Row]:
    """Every pipeline that ran for the MR (its MR refs or its source branch), newest first."""
    return store.all(
        "SELECT * FROM pipelines WHERE project_id = ? AND (ref = ? OR ref LIKE ?) "
        "ORDER BY id DESC", mr["source_project_id"], mr["source_branch"],
        f"refs/merge-requests/{mr['iid']}/%")


def notes(store: Store, mr: sqlite3.Row, *, order_by: str = "created_at", sort: str = "asc",
          activity: str = "all_notes") -> list[sqlite3.Row]:
    """The MR's notes, in the order and of the kind asked for."""
    column = order_by if order_by in NOTE_ORDER_BY else "created_at"
    direction = "desc" if sort == "desc" else "asc"
    kind = ACTIVITY_FILTERS.get(activity, ACTIVITY_FILTERS["all_notes"])
    return store.all(
        f"SELECT * FROM notes WHERE noteable_type = 'MergeRequest' AND noteable_id = ? "
        f"AND {kind} ORDER BY {column} {direction}, id {direction}", mr["id"])


def user_notes_count(store: Store, mr: sqlite3.Row) -> int:
    """The number of the MR's notes written by people (not system notes)."""
    row = store.one("SELECT COUNT(*) AS n FROM notes WHERE noteable_type = 'MergeRequest' "
                    "AND noteable_id = ? AND system = 0", mr["id"])
    return int(row["n"])


def find_note(store: Store, mr: sqlite3.Row, note_id: int) -> sqlite3.Row | None:
    """A note of this MR by id (a note of another MR is as missing as no note)."""
    return store.one("SELECT * FROM notes WHERE id = ? AND noteable_type = 'MergeRequest' "
                     "AND noteable_id = ?", note_id, mr["id"])


def get_note(store: Store, note_id: int) -> sqlite3.Row | None:
    """A note by id."""
    return store.one("SELECT * FROM notes WHERE id = ?", note_id)


def add_note(store: Store, mr: sqlite3.Row, body: str, author_id: int) -> sqlite3.Row:
    """A new note on the MR by `author_id`."""
    t = now()
    with store.tx() as db:
        cur = db.execute(
            "INSERT INTO notes (project_id, noteable_type, noteable_id, noteable_iid, body, "
            "author_id, created_at, updated_at) VALUES (?, 'MergeRequest', ?, ?, ?, ?, ?, ?)",
            (mr["project_id"], mr["id"], mr["iid"], body, author_id, t, t))
        return db.execute("SELECT * FROM notes WHERE id = ?", (cur.lastrowid,)).fetchone()


def update_note(store: Store, note: sqlite3.Row, body: str) -> sqlite3.Row:
    """The note with its body replaced."""
    with store.tx() as db:
        db.execute("UPDATE notes SET body = ?, updated_at = ? WHERE id = ?",
                   (body, now(), note["id"]))
        return db.execute("SELECT * FROM notes WHERE id = ?", (note["id"],)).fetchone()


def delete_note(store: Store, note: sqlite3.Row) -> None:
    """Remove a note."""
    with store.tx() as db:
        db.execute("DELETE FROM notes WHERE id = ?", (note["id"],))


def create_merge_request(db: sqlite3.Connection, project_id: int, *, title: str,
                         source_branch: str, target_branch: str, labels: list[str],
                         description: str, sha: str, base_sha: str, author_id: int | None
                         ) -> int:
    """Insert an opened MR with the next per-project iid; returns its row id."""
    iid = next_iid(db, "merge_requests", project_id)
    t = now()
    cur = db.execute(
        "INSERT INTO merge_requests (project_id, iid, title, description, state, source_branch, "
        "target_branch, source_project_id, target_project_id, labels, sha, base_sha, start_sha, "
        "author_id, created_at, updated_at) VALUES (?, ?, ?, ?, 'opened', ?, ?, ?, ?, ?, ?, ?, "
        "?, ?, ?, ?)",
        (project_id, iid, title, description, source_branch, target_branch, project_id,
         project_id, json.dumps(labels), sha, base_sha, base_sha, author_id, t, t))
    return int(cur.lastrowid)


def merge_merge_request(db: sqlite3.Connection, mr_id: int, *, merge_commit_sha: str | None,
                        squash_commit_sha: str | None, merged_by_id: int | None) -> None:
    """Mark an MR merged, as accepting it does: state, merge (or squash) commit, who, when."""
    t = now()
    db.execute("UPDATE merge_requests SET state = 'merged', updated_at = ? WHERE id = ?",
               (t, mr_id))
    db.execute("INSERT OR REPLACE INTO merge_request_merges VALUES (?, ?, ?, ?, ?)",
               (mr_id, merge_commit_sha, squash_commit_sha, merged_by_id, t))


def labels_of(mr: sqlite3.Row) -> list[str]:
    """The MR's labels."""
    value: Any = json.loads(mr["labels"])
    return list(value)


def get_merge_request(store: Store, mr_id: int) -> sqlite3.Row | None:
    """An MR by row id."""
    return store.one("SELECT * FROM merge_requests WHERE id = ?", mr_id)
