"""A project's packages (GitLab: `Packages::Package`): the list finder, lookups, removal.

What a list shows and what a lookup finds differ by status, as in GitLab: lists show
`default` and `error` packages (`displayable`), an id finds `default` and `hidden` ones
(`installable`).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any

from mlflow_gitlab.sandbox.backend.store import Store, now

PACKAGE_TYPES = ("maven", "npm", "conan", "nuget", "pypi", "composer", "generic", "golang",
                 "debian", "rubygems", "helm", "terraform_module", "rpm", "ml_model", "cargo")
STATUSES = ("default", "hidden", "processing", "error", "pending_destruction")
DISPLAYABLE = ("default", "error")  # listed when no `status` is asked for
INSTALLABLE = ("default", "hidden")  # found by id
ORDER_COLUMNS = {"created_at": "created_at", "name": "name", "version": "version",
                 "type": "package_type"}
FILE_ORDER_COLUMNS = ("id", "created_at", "file_name")


@dataclass(frozen=True)
class ReceivedFile:
    blob: str  # relative to Store.files_dir
    size: int
    sha256: str
    md5: str
    sha1: str


@dataclass(frozen=True)
class PackageQuery:
    """`PackagesFinder`'s filters (values already validated)."""

    order_by: str = "created_at"
    sort: str = "asc"
    package_type: str | None = None
    name: str | None = None  # a case-insensitive substring, as `search_by_name`
    version: str | None = None  # exact
    versionless: bool = False
    status: str | None = None


def list_packages(store: Store, project_id: int, query: PackageQuery | None = None
                  ) -> list[sqlite3.Row]:
    """The project's packages as `PackagesFinder` lists them."""
    q = query or PackageQuery()
    statuses = (q.status,) if q.status else DISPLAYABLE  # hidden only if asked
    sql = ["SELECT * FROM packages WHERE project_id = ?",
           f"AND status IN ({', '.join('?' * len(statuses))})"]
    args: list[Any] = [project_id, *statuses]
    if not q.versionless:
        sql.append("AND version IS NOT NULL")
    if q.package_type:
        sql.append("AND package_type = ?")
        args.append(q.package_type)
    if q.name:
        sql.append("AND instr(lower(name), lower(?)) > 0")
        args.append(q.name)
    if q.version is not None:
        sql.append("AND version = ?")
        args.append(q.version)
    direction = "DESC" if q.sort == "desc" else "ASC"
    column = ORDER_COLUMNS.get(q.order_by, "created_at")
    sql.append(f"ORDER BY {column} {direction}, id {direction}")
    return store.all(" ".join(sql), *args)


def find_installable(store: Store, project_id: int, package_id: int) -> sqlite3.Row | None:
    """`PackageFinder`: an installable package of the project by id, if any."""
    return store.one(
        "SELECT * FROM packages WHERE id = ? AND project_id = ? AND status IN (?, ?)",
        package_id, project_id, *INSTALLABLE)


def other_versions(store: Store, package: sqlite3.Row) -> list[sqlite3.Row]:
    """The package's other installable versions (same name and type), by version."""
    return store.all(
        "SELECT * FROM packages WHERE project_id = ? AND name = ? AND package_type = ? "
        "AND version IS NOT ? AND status IN (?, ?) ORDER BY version, id",
        package["project_id"], package["name"], package["package_type"], package["version"],
        *INSTALLABLE)


def all_files(store: Store, package_id: int, order_by: str = "id", sort: str = "asc"
              ) -> list[sqlite3.Row]:
    """Every file row of a package, uploads of the same name included."""
    column = order_by if order_by in FILE_ORDER_COLUMNS else "id"
    direction = "DESC" if sort == "desc" else "ASC"
    return store.all(f"SELECT * FROM package_files WHERE package_id = ? "
                     f"ORDER BY {column} {direction}, id {direction}", package_id)


def file_counts(store: Store, package_ids: list[int]) -> dict[int, tuple[int, int]]:
    """Package id -> (number of files, bytes in all), for the ids given."""
    if not package_ids:
        return {}
    marks = ",".join("?" * len(package_ids))
    return {row["package_id"]: (row["n"], row["bytes"]) for row in store.all(
        f"SELECT package_id, COUNT(*) AS n, COALESCE(SUM(size), 0) AS bytes "
        f"FROM package_files WHERE package_id IN ({marks}) GROUP BY package_id", *package_ids)}


def delete_package(store: Store, package: sqlite3.Row) -> None:
    """Remove a package, its file rows and their bytes."""
    with store.tx() as db:
        blobs = [r["blob"] for r in db.execute(
            "SELECT blob FROM package_files WHERE package_id = ?", (package["id"],))]
        db.execute("DELETE FROM package_files WHERE package_id = ?", (package["id"],))
        db.execute("DELETE FROM packages WHERE id = ?", (package["id"],))
    _unlink(store, blobs)


def find_file(store: Store, package_id: int, file_id: int) -> sqlite3.Row | None:
    """A file row of the package by id, if any."""
    return store.one("SELECT * FROM package_files WHERE id = ? AND package_id = ?",
                     file_id, package_id)


def delete_file(store: Store, row: sqlite3.Row) -> None:
    """Remove one file row and its bytes."""
    with store.tx() as db:
        db.execute("DELETE FROM package_files WHERE id = ?", (row["id"],))
    _unlink(store, [row["blob"]])


def _unlink(store: Store, blobs: list[str]) -> None:
    for blob in blobs:
        store.blob_path(blob).unlink(missing_ok=True)


def holder(store: Store, package: sqlite3.Row) -> dict[str, sqlite3.Row] | None:
    """What an `ml_model` package holds: `{"model": .., "version": ..}` for a model version's
    files, `{"candidate": ..}` for a run's; None for any other package."""
    if package["package_type"] != "ml_model":
        return None
    version = store.one("SELECT * FROM model_versions WHERE package_id = ?", package["id"])
    if version is not None:
        model = store.one("SELECT * FROM models WHERE id = ?", version["model_id"])
        return {"model": model, "version": version}
    candidate = store.one("SELECT * FROM candidates WHERE package_id = ?", package["id"])
    return {"candidate": candidate} if candidate is not None else None


def find_or_create(db: sqlite3.Connection, project_id: int, package_type: str,
                           name: str, version: str, status: str = "default") -> sqlite3.Row:
    """The newest package with this type, name and version, created when missing."""
    row = db.execute(
        "SELECT * FROM packages WHERE project_id = ? AND package_type = ? AND name = ? "
        "AND version = ? ORDER BY id DESC LIMIT 1",
        (project_id, package_type, name, version)).fetchone()
    if row is not None:
        return row
    t = now()
    cur = db.execute(
        "INSERT INTO packages (project_id, name, version, package_type, status, created_at, "
        "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (project_id, name, version, package_type, status, t, t))
    return db.execute("SELECT * FROM packages WHERE id = ?", (cur.lastrowid,)).fetchone()


def add_file(db: sqlite3.Connection, package_id: int, file_name: str, received: ReceivedFile,
             *, sha256_only: bool = False) -> sqlite3.Row:
    """Record an uploaded file; duplicates of a name are appended, the newest wins on GET.
    With `sha256_only` the MD5 and SHA-1 are not recorded (as for generic packages)."""
    t = now()
    md5, sha1 = (None, None) if sha256_only else (received.md5, received.sha1)
    cur = db.execute(
        "INSERT INTO package_files (package_id, file_name, size, file_md5, file_sha1, "
        "file_sha256, blob, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (package_id, file_name, received.size, md5, sha1, received.sha256, received.blob, t, t))
    db.execute("UPDATE packages SET updated_at = ? WHERE id = ?", (t, package_id))
    return db.execute("SELECT * FROM package_files WHERE id = ?", (cur.lastrowid,)).fetchone()


def newest_file(store: Store, package_id: int, file_name: str) -> sqlite3.Row | None:
    return store.one("SELECT * FROM package_files WHERE package_id = ? AND file_name = ? "
                     "ORDER BY id DESC LIMIT 1", package_id, file_name)


def set_status(db: sqlite3.Connection, package_id: int, status: str) -> None:
    """Set a package's status (`default`, `hidden`, ...)."""
    db.execute("UPDATE packages SET status = ? WHERE id = ?", (status, package_id))


def holds(db: sqlite3.Connection, package_id: int, file_name: str) -> bool:
    """Whether the package has a file of that name."""
    return db.execute("SELECT 1 FROM package_files WHERE package_id = ? AND file_name = ?",
                      (package_id, file_name)).fetchone() is not None


def find_installable_named(store: Store, project_id: int, package_type: str, name: str,
                           version: str) -> sqlite3.Row | None:
    """`by_name_and_version!`: the newest installable package of that type, name, version."""
    return store.one(
        "SELECT * FROM packages WHERE project_id = ? AND package_type = ? AND name = ? "
        "AND version = ? AND status IN (?, ?) ORDER BY id DESC LIMIT 1",
        project_id, package_type, name, version, *INSTALLABLE)
