"""Files of a run or a model version: which package holds them (a run's is made on its first
upload, as `Ml::FindOrCreatePackageForCandidateService` does), its newest files, one file by id.

A name is stored URL-encoded (`dir%2Fmodel.pkl`) and uploaded again under the same name
appends a row; the newest row of a name is the file (as the download routes answer it).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any

from mlflow_gitlab.sandbox.backend.candidates import find_candidate_by_iid
from mlflow_gitlab.sandbox.backend.errors import NotFound
from mlflow_gitlab.sandbox.backend.packages import find_or_create
from mlflow_gitlab.sandbox.backend.records import ar_integer
from mlflow_gitlab.sandbox.backend.store import Store

CANDIDATE_PREFIX = "candidate:"  # `:model_version_id` naming a run: `candidate:<iid>`


def package_files(store: Store, package_id: int | None) -> list[sqlite3.Row]:
    """The newest file of each name in the package, by name (none for no package)."""
    if package_id is None:
        return []
    return store.all(
        "SELECT * FROM package_files WHERE id IN (SELECT MAX(id) FROM package_files "
        "WHERE package_id = ? GROUP BY file_name) ORDER BY file_name", package_id)


def get_package(store: Store, package_id: int | None) -> sqlite3.Row | None:
    """A package by id."""
    if package_id is None:
        return None
    return store.one("SELECT * FROM packages WHERE id = ?", package_id)


def find_package(store: Store, project_id: int, package_type: str, name: str | None,
                 version: str | None) -> sqlite3.Row | None:
    """The newest package of the project with that type, name and version, if any."""
    if not name or not version:
        return None
    return store.one("SELECT * FROM packages WHERE project_id = ? AND package_type = ? AND "
                     "name = ? AND version = ? ORDER BY id DESC LIMIT 1",
                     project_id, package_type, name, version)


def find_package_file(store: Store, project_id: int, file_id: Any) -> sqlite3.Row:
    """A file of one of the project's packages, by id; unknown -> NotFound."""
    number = ar_integer(file_id)
    row = None if number is None else store.one(
        "SELECT f.* FROM package_files f JOIN packages p ON p.id = f.package_id "
        "WHERE f.id = ? AND p.project_id = ?", number, project_id)
    if row is None:
        raise NotFound()
    return row


@dataclass(frozen=True)
class Target:
    """What `:model_version_id` names; exactly one of the two rows is set."""

    version: sqlite3.Row | None = None
    candidate: sqlite3.Row | None = None


def find_target(store: Store, project_id: int, ref: str) -> Target | None:
    """A model version by id, or a run by `candidate:<iid>`, in this project."""
    if ref.startswith(CANDIDATE_PREFIX):
        iid = ref[len(CANDIDATE_PREFIX):]
        row = find_candidate_by_iid(store, project_id, int(iid)) if iid.isdigit() else None
        return Target(candidate=row) if row is not None else None
    row = store.one("SELECT * FROM model_versions WHERE project_id = ? AND id = ?",
                    project_id, int(ref)) if ref.isdigit() else None
    return Target(version=row) if row is not None else None


def existing_package_id(target: Target) -> int | None:
    """The package files are read from (a run without uploads has none)."""
    row = target.version if target.version is not None else target.candidate
    assert row is not None
    return row["package_id"]


def candidate_package(db: sqlite3.Connection, candidate: sqlite3.Row) -> int:
    """`PackageForCandidateService`: find or create the run's package and link it."""
    experiment = db.execute("SELECT iid, model_id FROM experiments WHERE id = ?",
                            (candidate["experiment_id"],)).fetchone()
    name = f"ml_experiment_{experiment['iid']}"
    if experiment["model_id"] is not None:  # a model's `[model]<name>` experiment
        model = db.execute("SELECT name FROM models WHERE id = ?",
                           (experiment["model_id"],)).fetchone()
        name = model["name"]
    package = find_or_create(db, candidate["project_id"], "ml_model", name,
                                        f"candidate_{candidate['iid']}")
    db.execute("UPDATE candidates SET package_id = ? WHERE id = ?",
               (package["id"], candidate["id"]))
    return int(package["id"])
