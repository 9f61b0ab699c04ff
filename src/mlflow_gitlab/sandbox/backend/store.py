"""The sandbox's state: one SQLite database plus uploaded files on disk.

Every write runs inside `Store.tx()`, which serializes writers with a lock (SQLite has one
writer anyway) and commits on success. Uploaded bytes live under `<data>/files/` and are
written before the lock is taken, so a slow upload never blocks other requests. The database
holds every token, so the data folder is its owner's alone (0700, the database 0600).
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from mlflow_gitlab.errors import SandboxError
from mlflow_gitlab.sandbox.data_dir import DATABASE, private_database, private_folder

SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    id INTEGER PRIMARY KEY, username TEXT UNIQUE NOT NULL, name TEXT NOT NULL,
    bot INTEGER NOT NULL DEFAULT 0, role_label TEXT
);
CREATE TABLE IF NOT EXISTS tokens (
    id INTEGER PRIMARY KEY, value TEXT UNIQUE NOT NULL, user_id INTEGER NOT NULL,
    kind TEXT NOT NULL,               -- personal | project | job
    scopes TEXT NOT NULL DEFAULT '',  -- space separated: api read_api ...
    job_id INTEGER, label TEXT, revoked INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS projects (
    id INTEGER PRIMARY KEY, path TEXT UNIQUE NOT NULL, name TEXT NOT NULL,
    visibility TEXT NOT NULL DEFAULT 'private', default_branch TEXT NOT NULL DEFAULT 'main',
    created_at REAL NOT NULL, description TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS members (
    project_id INTEGER NOT NULL, user_id INTEGER NOT NULL, access_level INTEGER NOT NULL,
    PRIMARY KEY (project_id, user_id)
);
CREATE TABLE IF NOT EXISTS experiments (
    id INTEGER PRIMARY KEY, project_id INTEGER NOT NULL, iid INTEGER NOT NULL,
    name TEXT NOT NULL, model_id INTEGER, user_id INTEGER,
    created_at REAL NOT NULL, updated_at REAL NOT NULL,
    UNIQUE (project_id, iid), UNIQUE (project_id, name)
);
CREATE TABLE IF NOT EXISTS experiment_tags (
    id INTEGER PRIMARY KEY, experiment_id INTEGER NOT NULL, key TEXT NOT NULL, value TEXT,
    UNIQUE (experiment_id, key)
);
CREATE TABLE IF NOT EXISTS candidates (
    id INTEGER PRIMARY KEY, project_id INTEGER NOT NULL, experiment_id INTEGER NOT NULL,
    iid INTEGER NOT NULL, eid TEXT UNIQUE NOT NULL, name TEXT, status TEXT NOT NULL,
    start_time INTEGER, end_time INTEGER, user_id INTEGER, ci_build_id INTEGER,
    model_version_id INTEGER, package_id INTEGER,
    created_at REAL NOT NULL, updated_at REAL NOT NULL,
    UNIQUE (project_id, iid)
);
CREATE TABLE IF NOT EXISTS candidate_params (
    id INTEGER PRIMARY KEY, candidate_id INTEGER NOT NULL, key TEXT NOT NULL, value TEXT,
    UNIQUE (candidate_id, key)
);
CREATE TABLE IF NOT EXISTS candidate_tags (
    id INTEGER PRIMARY KEY, candidate_id INTEGER NOT NULL, key TEXT NOT NULL, value TEXT,
    UNIQUE (candidate_id, key)
);
CREATE TABLE IF NOT EXISTS candidate_metrics (
    id INTEGER PRIMARY KEY, candidate_id INTEGER NOT NULL, key TEXT NOT NULL,
    value REAL, timestamp INTEGER, step INTEGER
);
CREATE INDEX IF NOT EXISTS candidate_metrics_by_key ON candidate_metrics (candidate_id, key);
CREATE TABLE IF NOT EXISTS models (
    id INTEGER PRIMARY KEY, project_id INTEGER NOT NULL, name TEXT NOT NULL,
    description TEXT, user_id INTEGER, created_at REAL NOT NULL, updated_at REAL NOT NULL,
    UNIQUE (project_id, name)
);
CREATE TABLE IF NOT EXISTS model_tags (
    id INTEGER PRIMARY KEY, model_id INTEGER NOT NULL, key TEXT NOT NULL, value TEXT,
    UNIQUE (model_id, key)
);
CREATE TABLE IF NOT EXISTS model_versions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,  -- one instance-wide sequence, as on GitLab
    project_id INTEGER NOT NULL, model_id INTEGER NOT NULL, version TEXT NOT NULL,
    description TEXT, candidate_id INTEGER, package_id INTEGER, user_id INTEGER,
    created_at REAL NOT NULL, updated_at REAL NOT NULL,
    UNIQUE (model_id, version)
);
CREATE TABLE IF NOT EXISTS model_version_tags (
    id INTEGER PRIMARY KEY, model_version_id INTEGER NOT NULL, key TEXT NOT NULL, value TEXT,
    UNIQUE (model_version_id, key)
);
CREATE TABLE IF NOT EXISTS packages (
    id INTEGER PRIMARY KEY, project_id INTEGER NOT NULL, name TEXT NOT NULL,
    version TEXT, package_type TEXT NOT NULL, status TEXT NOT NULL DEFAULT 'default',
    created_at REAL NOT NULL, updated_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS packages_by_name ON packages (project_id, package_type, name, version);
CREATE TABLE IF NOT EXISTS package_files (
    id INTEGER PRIMARY KEY, package_id INTEGER NOT NULL, file_name TEXT NOT NULL,
    size INTEGER NOT NULL, file_md5 TEXT, file_sha1 TEXT, file_sha256 TEXT NOT NULL,
    blob TEXT NOT NULL,  -- path of the bytes, relative to <data>/files
    created_at REAL NOT NULL, updated_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS package_files_by_name ON package_files (package_id, file_name);
CREATE TABLE IF NOT EXISTS pypi_metadata (
    package_id INTEGER PRIMARY KEY, required_python TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS deploy_tokens (
    id INTEGER PRIMARY KEY, project_id INTEGER NOT NULL, username TEXT UNIQUE NOT NULL,
    value TEXT UNIQUE NOT NULL, scopes TEXT NOT NULL, revoked INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS pipelines (
    id INTEGER PRIMARY KEY, project_id INTEGER NOT NULL, iid INTEGER NOT NULL,
    sha TEXT NOT NULL, ref TEXT NOT NULL, tag INTEGER NOT NULL DEFAULT 0,
    status TEXT NOT NULL, source TEXT NOT NULL, user_id INTEGER, name TEXT,
    before_sha TEXT NOT NULL DEFAULT '0000000000000000000000000000000000000000',
    created_at REAL NOT NULL, updated_at REAL NOT NULL, started_at REAL, finished_at REAL
);
CREATE TABLE IF NOT EXISTS jobs (
    id INTEGER PRIMARY KEY, project_id INTEGER NOT NULL, pipeline_id INTEGER NOT NULL,
    name TEXT NOT NULL, stage TEXT NOT NULL, status TEXT NOT NULL, ref TEXT NOT NULL,
    allow_failure INTEGER NOT NULL DEFAULT 0, user_id INTEGER,
    created_at REAL NOT NULL, started_at REAL, finished_at REAL
);
CREATE TABLE IF NOT EXISTS merge_requests (
    id INTEGER PRIMARY KEY, project_id INTEGER NOT NULL, iid INTEGER NOT NULL,
    title TEXT NOT NULL, description TEXT NOT NULL DEFAULT '', state TEXT NOT NULL,
    draft INTEGER NOT NULL DEFAULT 0, source_branch TEXT NOT NULL, target_branch TEXT NOT NULL,
    source_project_id INTEGER NOT NULL, target_project_id INTEGER NOT NULL,
    labels TEXT NOT NULL DEFAULT '[]', sha TEXT NOT NULL, base_sha TEXT NOT NULL,
    start_sha TEXT NOT NULL, author_id INTEGER,
    created_at REAL NOT NULL, updated_at REAL NOT NULL,
    UNIQUE (project_id, iid)
);
CREATE TABLE IF NOT EXISTS merge_request_merges (
    merge_request_id INTEGER PRIMARY KEY, merge_commit_sha TEXT, squash_commit_sha TEXT,
    merged_by_id INTEGER, merged_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS notes (
    id INTEGER PRIMARY KEY, project_id INTEGER NOT NULL, noteable_type TEXT NOT NULL,
    noteable_id INTEGER NOT NULL, noteable_iid INTEGER NOT NULL, body TEXT NOT NULL,
    author_id INTEGER NOT NULL, system INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL, updated_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


# (table, column, declaration) of columns newer than the first sandbox release's schema.
ADDED_COLUMNS = (("projects", "description", "TEXT NOT NULL DEFAULT ''"),)


class Store:
    """A SQLite database and a blob folder under one data directory."""

    def __init__(self, data_dir: Path) -> None:
        """Open (or create) the data folder, made private to its owner first.

        Raises:
            ConfigError: the folder is another user's, or holds files but no sandbox.
            SandboxError: the folder or the database cannot be created or opened.
        """
        self.data_dir = Path(data_dir)
        self.files_dir = self.data_dir / "files"
        self.tmp_dir = self.data_dir / "tmp"
        try:
            private_folder(self.data_dir)
            private_folder(self.files_dir, data_root=False)
            private_folder(self.tmp_dir, data_root=False)
            database = self.data_dir / DATABASE
            private_database(database)
            self._db = sqlite3.connect(database, check_same_thread=False, isolation_level=None)
        except (OSError, sqlite3.Error) as exc:
            reason = getattr(exc, "strerror", None) or exc
            raise SandboxError(f"cannot use data directory {data_dir}: {reason}") from exc
        self._lock = threading.RLock()
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(SCHEMA)
        self._add_missing_columns()

    def _add_missing_columns(self) -> None:
        """Columns added since a data folder was made: its tables get them, with defaults."""
        for table, column, declaration in ADDED_COLUMNS:
            names = {row["name"] for row in self._db.execute(f"PRAGMA table_info({table})")}
            if column not in names:
                self._db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {declaration}")

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        """A transaction: committed when the block ends, rolled back if it raises."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def one(self, sql: str, *args: object) -> sqlite3.Row | None:
        with self._lock:
            return self._db.execute(sql, args).fetchone()

    def all(self, sql: str, *args: object) -> list[sqlite3.Row]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def blob_path(self, blob: str) -> Path:
        return self.files_dir / blob

    def meta(self, key: str) -> str | None:
        row = self.one("SELECT value FROM meta WHERE key = ?", key)
        return row["value"] if row else None


def now() -> float:
    """Seconds since the epoch; every `created_at`/`updated_at` column holds this."""
    return time.time()


def iso8601(seconds: float | None) -> str | None:
    """GitLab's timestamp format: `2021-10-12T12:05:23.387Z`."""
    if seconds is None:
        return None
    millis = round(seconds * 1000)
    base = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(millis // 1000))
    return f"{base}.{millis % 1000:03d}Z"


def next_iid(db: sqlite3.Connection, table: str, project_id: int) -> int:
    """The next per-project iid of `table` (call inside the writing transaction)."""
    row = db.execute(f"SELECT COALESCE(MAX(iid), 0) + 1 FROM {table} WHERE project_id = ?",
                     (project_id,)).fetchone()
    return int(row[0])
