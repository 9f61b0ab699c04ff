"""Registered models (GitLab: `Ml::Model`) and their versions, read: lookups and semver order.

A model's public id on its web page is its row id, a version's is its instance-wide id
(`/-/ml/models/:model_id/versions/:model_version_id`); the semver is the version's name.
"""

from __future__ import annotations

import re
import sqlite3
from collections import defaultdict
from typing import Any

from mlflow_gitlab.sandbox.backend.errors import NotFound
from mlflow_gitlab.sandbox.backend.records import ar_integer
from mlflow_gitlab.sandbox.backend.store import Store

# `semver_regex` of `lib/gitlab/regex.rb`: MAJOR.MINOR.PATCH[-prerelease][+build], no
# leading zeros, no `v`.
SEMVER = re.compile(
    r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?", re.ASCII)


def is_semver(version: str) -> bool:
    return SEMVER.fullmatch(version) is not None


def semver_key(version: str) -> tuple[int, int, int]:
    """(major, minor, patch): GitLab's latest-version order ignores prerelease and build."""
    m = SEMVER.fullmatch(version)
    return (int(m[1]), int(m[2]), int(m[3])) if m else (-1, -1, -1)


def latest_version(rows: list[sqlite3.Row]) -> sqlite3.Row | None:
    """The highest semver by (major, minor, patch); the newest row wins a tie."""
    return max(rows, key=lambda r: (semver_key(r["version"]), r["id"]), default=None)


def newest_first(rows: list[sqlite3.Row]) -> list[sqlite3.Row]:
    """Versions by semver, highest first (the newest row first on a tie)."""
    return sorted(rows, key=lambda r: (semver_key(r["version"]), r["id"]), reverse=True)


# --- reads --------------------------------------------------------------------------------


def list_models(store: Store, project_id: int) -> list[sqlite3.Row]:
    """The project's models, newest first."""
    return store.all("SELECT * FROM models WHERE project_id = ? ORDER BY id DESC", project_id)


def find_model_by_id(store: Store, project_id: int, model_id: Any) -> sqlite3.Row:
    """A model of the project by row id; unknown -> NotFound."""
    number = ar_integer(model_id)
    row = None if number is None else store.one(
        "SELECT * FROM models WHERE project_id = ? AND id = ?", project_id, number)
    if row is None:
        raise NotFound()
    return row


def find_model_by_name(store: Store, project_id: int, name: str) -> sqlite3.Row:
    """A model of the project by name; unknown -> NotFound."""
    row = store.one("SELECT * FROM models WHERE project_id = ? AND name = ?", project_id, name)
    if row is None:
        raise NotFound()
    return row


def model_of_experiment(store: Store, experiment: sqlite3.Row) -> sqlite3.Row | None:
    """The model whose `[model]<name>` experiment this is, if any."""
    if experiment["model_id"] is None:
        return None
    return store.one("SELECT * FROM models WHERE id = ?", experiment["model_id"])


def model_tags(store: Store, model_id: int) -> list[sqlite3.Row]:
    """The model's tags (`key`, `value`), in insertion order."""
    return store.all("SELECT key, value FROM model_tags WHERE model_id = ? ORDER BY id",
                     model_id)


def model_versions(store: Store, model_id: int) -> list[sqlite3.Row]:
    """The model's versions, highest semver first."""
    return newest_first(store.all("SELECT * FROM model_versions WHERE model_id = ?", model_id))


def versions_by_model(store: Store, project_id: int) -> dict[int, list[sqlite3.Row]]:
    """Model id -> its versions (highest semver first), for every model of the project."""
    grouped: dict[int, list[sqlite3.Row]] = defaultdict(list)
    for row in store.all("SELECT * FROM model_versions WHERE project_id = ?", project_id):
        grouped[row["model_id"]].append(row)
    return {model_id: newest_first(rows) for model_id, rows in grouped.items()}


def find_model_version(store: Store, model: sqlite3.Row, version_id: Any) -> sqlite3.Row:
    """A version of `model` by its instance-wide id; unknown or another model's -> NotFound."""
    number = ar_integer(version_id)
    row = None if number is None else store.one(
        "SELECT * FROM model_versions WHERE model_id = ? AND id = ?", model["id"], number)
    if row is None:
        raise NotFound()
    return row


def get_model_version(store: Store, version_id: int) -> sqlite3.Row | None:
    """A version by id."""
    return store.one("SELECT * FROM model_versions WHERE id = ?", version_id)


def model_version_tags(store: Store, version_id: int) -> list[sqlite3.Row]:
    """The version's tags (`key`, `value`), in insertion order."""
    return store.all("SELECT key, value FROM model_version_tags WHERE model_version_id = ? "
                     "ORDER BY id", version_id)


def experiment_of_model(store: Store, model: sqlite3.Row) -> sqlite3.Row | None:
    """The model's own `[model]<name>` experiment, which holds its versions' runs."""
    return store.one("SELECT * FROM experiments WHERE model_id = ? ORDER BY id LIMIT 1",
                     model["id"])


def candidate_of_version(store: Store, version_id: int) -> sqlite3.Row | None:
    """The run linked to the version (its `run_id` in MLflow's entity), if any."""
    return store.one("SELECT * FROM candidates WHERE model_version_id = ?", version_id)


def get_model(store: Store, model_id: int) -> sqlite3.Row | None:
    """A model by row id."""
    return store.one("SELECT * FROM models WHERE id = ?", model_id)


def versions_in_order(store: Store, model_id: int) -> list[sqlite3.Row]:
    """The model's versions in creation order (as MLflow's `latest_versions` lists them)."""
    return store.all("SELECT * FROM model_versions WHERE model_id = ? ORDER BY id", model_id)
