"""Project git repositories: bare repositories under `<data>/repositories/<path>.git`.

They are created on first push (or with the project, `create_project`) and configured as
GitLab's Gitaly serves them: partial clones (`uploadpack.allowFilter`) and wants of any
reachable object (`uploadpack.allowAnySHA1InWant`) allowed.
"""

from __future__ import annotations

import secrets
import subprocess
from pathlib import Path

from mlflow_gitlab.sandbox.backend.store import Store, now

REPOSITORIES = "repositories"
_CONFIG = (("uploadpack.allowFilter", "true"), ("uploadpack.allowAnySHA1InWant", "true"),
           ("http.receivepack", "true"), ("http.uploadpack", "true"),
           ("receive.advertisePushOptions", "true"))


def root(store: Store) -> Path:
    """The folder holding every project's bare repository."""
    return store.data_dir / REPOSITORIES


def path(store: Store, project_path: str) -> Path:
    """Where the repository of the project at `project_path` lives (it may not exist yet)."""
    return root(store) / f"{project_path}.git"


def exists(store: Store, project_path: str) -> bool:
    return (path(store, project_path) / "HEAD").is_file()


def ensure(store: Store, project_path: str, default_branch: str = "main") -> Path:
    """The project's bare repository, created (empty) when missing."""
    repo = path(store, project_path)
    if not (repo / "HEAD").is_file():
        repo.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        _git(None, "init", "--quiet", "--bare", f"--initial-branch={default_branch}",
             str(repo))
        for key, value in _CONFIG:
            _git(repo, "config", key, value)
    return repo


def read_blob(repo: Path, ref: str, file_path: str) -> bytes | None:
    """The bytes of `file_path` at `ref` (branch, tag or SHA); None when either is missing."""
    if ref.startswith("-") or not file_path or ".." in file_path.split("/"):
        return None
    done = subprocess.run(["git", "cat-file", "blob", f"{ref}:{file_path}"], cwd=repo,
                          capture_output=True, timeout=60, check=False)
    return done.stdout if done.returncode == 0 else None


def resolves(repo: Path, ref: str) -> bool:
    """Whether `ref` names a commit of the repository."""
    if ref.startswith("-"):
        return False
    done = subprocess.run(["git", "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"],
                          cwd=repo, capture_output=True, timeout=60, check=False)
    return done.returncode == 0


def split_ref(repo: Path, ref_and_path: str) -> tuple[str, str] | None:
    """`v1/x/templates/a.yml` -> (ref, path), the longest prefix that names a commit winning,
    as GitLab's `ExtractsRef` prefers the longest matching branch or tag name."""
    parts = ref_and_path.split("/")
    for cut in range(len(parts) - 1, 0, -1):
        ref = "/".join(parts[:cut])
        if resolves(repo, ref):
            return ref, "/".join(parts[cut:])
    return None


def create_project(store: Store, project_path: str, visibility: str = "private",
                   default_branch: str = "main") -> int:
    """A new project (and its empty repository); returns its id."""
    with store.tx() as db:
        cursor = db.execute(
            "INSERT INTO projects (path, name, visibility, default_branch, created_at) "
            "VALUES (?, ?, ?, ?, ?)",
            (project_path, project_path.rpartition("/")[2], visibility, default_branch, now()))
        project_id = int(cursor.lastrowid or 0)
    ensure(store, project_path, default_branch)
    return project_id


def create_project_token(store: Store, project_id: int, scopes: str, access_level: int) -> str:
    """A project access token: a bot user `project_<id>_bot_<n>`, member at `access_level`."""
    token = "glpat-" + secrets.token_urlsafe(20)
    with store.tx() as db:
        count = db.execute("SELECT COUNT(*) FROM users WHERE username LIKE ?",
                           (f"project_{project_id}_bot_%",)).fetchone()[0]
        username = f"project_{project_id}_bot_{count + 1}"
        user_id = db.execute("INSERT INTO users (username, name, bot) VALUES (?, ?, 1)",
                             (username, f"{username} token")).lastrowid
        db.execute("INSERT INTO members VALUES (?, ?, ?)", (project_id, user_id, access_level))
        db.execute("INSERT INTO tokens (value, user_id, kind, scopes, label) "
                   "VALUES (?, ?, 'project', ?, ?)", (token, user_id, scopes, username))
    return token


def _git(cwd: Path | None, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, timeout=60)
