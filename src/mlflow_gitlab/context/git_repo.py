"""Commit facts from the local git repository, for runs started outside GitLab CI."""

from __future__ import annotations

import logging
from pathlib import Path

from mlflow_gitlab.context.model import Commit
from mlflow_gitlab.redaction import strip_url_credentials

log = logging.getLogger(__name__)


def from_git(path: Path | str = ".") -> Commit:
    """Commit, branch, remote URL (credentials stripped) and dirty flag of the repo at `path`.

    Returns an empty Commit when `path` is not in a git repository or git is unavailable:
    a local run without git is still a valid run.
    """
    try:
        import git  # gitpython: imported here, it costs start-up time
    except ImportError:  # pragma: no cover - gitpython is a dependency
        return Commit()
    try:
        repo = git.Repo(path, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError, git.GitCommandNotFound):
        return Commit()
    try:
        head = repo.head.commit
    except ValueError:  # a repository with no commits yet
        return Commit(dirty=repo.is_dirty(untracked_files=True))
    branch = None if repo.head.is_detached else repo.active_branch.name
    try:
        remote = next(iter(repo.remotes[0].urls)) if repo.remotes else None
    except (StopIteration, ValueError, git.GitCommandError) as exc:
        log.debug("no git remote URL: %s", exc)
        remote = None
    return Commit(
        sha=head.hexsha, short_sha=head.hexsha[:8], ref=branch, branch=branch,
        title=str(head.summary), message=str(head.message).strip(),
        remote_url=strip_url_credentials(remote) if remote else None,
        dirty=repo.is_dirty(untracked_files=True),
    )
