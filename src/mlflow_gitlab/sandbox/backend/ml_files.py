"""Files of a run or a model version (the rows of their package), and one package file by id.

A name is stored URL-encoded (`dir%2Fmodel.pkl`) and uploaded again under the same name
appends a row; the newest row of a name is the file (as the download routes answer it).
"""

from __future__ import annotations

import sqlite3
from typing import Any

from mlflow_gitlab.sandbox.backend.errors import NotFound
from mlflow_gitlab.sandbox.backend.records import ar_integer
from mlflow_gitlab.sandbox.backend.store import Store


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
