"""PyPI packages (`Packages::Pypi`): the installable versions with their `requires_python`,
a file by name and digest, and an upload as `Packages::Pypi::CreatePackageService` makes it.
"""

from __future__ import annotations

import sqlite3

from mlflow_gitlab.sandbox.backend.errors import Invalid
from mlflow_gitlab.sandbox.backend.packages import INSTALLABLE, ReceivedFile, add_file
from mlflow_gitlab.sandbox.backend.store import Store, now

_INSTALLABLE = f"({', '.join('?' * len(INSTALLABLE))})"


def installable(store: Store, project_id: int) -> list[sqlite3.Row]:
    """`Packages::Pypi::PackagesFinder`: installable versioned PyPI packages, oldest first,
    each with its `required_python` ('' when none was given)."""
    return store.all(
        "SELECT p.*, coalesce(m.required_python, '') AS required_python FROM packages p "
        "LEFT JOIN pypi_metadata m ON m.package_id = p.id WHERE p.project_id = ? AND "
        f"p.package_type = 'pypi' AND p.version IS NOT NULL AND p.status IN {_INSTALLABLE} "
        "ORDER BY p.id", project_id, *INSTALLABLE)


def find_file(store: Store, project_id: int, file_name: str, sha256: str) -> sqlite3.Row | None:
    """The newest file of an installable PyPI package with that name and digest."""
    return store.one(
        "SELECT f.* FROM package_files f JOIN packages p ON p.id = f.package_id "
        "WHERE p.project_id = ? AND p.package_type = 'pypi' AND p.version IS NOT NULL "
        f"AND p.status IN {_INSTALLABLE} AND f.file_name = ? AND f.file_sha256 = ? "
        "ORDER BY f.id DESC LIMIT 1", project_id, *INSTALLABLE, file_name, sha256)


def add_upload(store: Store, project_id: int, name: str, version: str, requires_python: str,
               file_name: str, received: ReceivedFile) -> None:
    """Find or create the version, upsert its metadata, add the file; a second file of the
    same name is refused (`Packages::PackageFile`'s validation)."""
    with store.tx() as db:
        package = _find_or_create(db, project_id, name, version)
        if db.execute("SELECT 1 FROM package_files WHERE package_id = ? AND file_name = ?",
                      (package["id"], file_name)).fetchone():
            raise Invalid("Validation failed: File name has already been taken")
        db.execute("INSERT INTO pypi_metadata (package_id, required_python) VALUES (?, ?) "
                   "ON CONFLICT (package_id) DO UPDATE SET required_python = "
                   "excluded.required_python", (package["id"], requires_python))
        add_file(db, package["id"], file_name, received)


def _find_or_create(db: sqlite3.Connection, project_id: int, name: str, version: str
                    ) -> sqlite3.Row:
    """`safe_find_or_create_by!(name:, version:)` among packages not pending destruction."""
    row = db.execute(
        "SELECT * FROM packages WHERE project_id = ? AND package_type = 'pypi' AND name = ? "
        "AND version = ? AND status != 'pending_destruction' ORDER BY id LIMIT 1",
        (project_id, name, version)).fetchone()
    if row is not None:
        return row
    t = now()
    cur = db.execute("INSERT INTO packages (project_id, name, version, package_type, status, "
                     "created_at, updated_at) VALUES (?, ?, ?, 'pypi', 'default', ?, ?)",
                     (project_id, name, version, t, t))
    return db.execute("SELECT * FROM packages WHERE id = ?", (cur.lastrowid,)).fetchone()
