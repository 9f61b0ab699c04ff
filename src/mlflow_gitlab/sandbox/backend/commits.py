"""Commits, which the sandbox knows without a repository: the ones its pipelines and merge
requests name (an MR's commits are its head only), and the MRs a commit belongs to.
"""

from __future__ import annotations

import sqlite3

from mlflow_gitlab.sandbox.backend.store import Store


def merge_requests_of(store: Store, project_id: int, sha: str, state: str | None = None
                      ) -> list[sqlite3.Row]:
    """`MergeRequestsFinder` with `commit_sha` (`by_related_commit_sha`): the MRs whose head,
    merge commit or squash commit `sha` is, newest first, optionally in one `state`."""
    where = "" if state is None else " AND m.state = ?"
    return store.all(
        "SELECT m.* FROM merge_requests m LEFT JOIN merge_request_merges x "
        "ON x.merge_request_id = m.id WHERE m.project_id = ? AND (m.sha = ? "
        f"OR x.merge_commit_sha = ? OR x.squash_commit_sha = ?){where} ORDER BY m.id DESC",
        project_id, sha, sha, sha, *([state] if state is not None else []))


def resolve_commit(store: Store, project_id: int, ref: str) -> str | None:
    """`user_project.commit(ref)`: the full SHA a SHA (or a unique prefix of 7 or more hex
    digits) or a branch name stands for, among the commits the sandbox knows; else None."""
    known = _known_shas(store, project_id)
    ref_lower = ref.lower()
    if len(ref) >= 7 and all(c in "0123456789abcdef" for c in ref_lower):
        matches = {sha for sha in known if sha.startswith(ref_lower)}
        if len(matches) == 1:
            return matches.pop()
    row = store.one(
        "SELECT sha FROM pipelines WHERE project_id = ? AND ref = ? AND tag = 0 "
        "ORDER BY id DESC LIMIT 1", project_id, ref)
    if row is None:
        row = store.one(
            "SELECT sha FROM merge_requests WHERE project_id = ? AND source_branch = ? "
            "AND state = 'opened' ORDER BY id DESC LIMIT 1", project_id, ref)
    return row["sha"] if row else None


def _known_shas(store: Store, project_id: int) -> set[str]:
    rows = store.all(
        "SELECT sha FROM pipelines WHERE project_id = ? UNION "
        "SELECT before_sha FROM pipelines WHERE project_id = ? UNION "
        "SELECT sha FROM merge_requests WHERE project_id = ? UNION "
        "SELECT base_sha FROM merge_requests WHERE project_id = ? UNION "
        "SELECT x.merge_commit_sha FROM merge_request_merges x JOIN merge_requests m "
        "ON m.id = x.merge_request_id WHERE m.project_id = ? UNION "
        "SELECT x.squash_commit_sha FROM merge_request_merges x JOIN merge_requests m "
        "ON m.id = x.merge_request_id WHERE m.project_id = ?", *([project_id] * 6))
    return {str(r[0]).lower() for r in rows if r[0] and set(str(r[0])) != {"0"}}
