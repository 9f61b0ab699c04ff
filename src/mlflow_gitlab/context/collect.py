"""`collect_context()`: the one entry point that picks GitLab CI variables or local git."""

from __future__ import annotations

import getpass
import os
from collections.abc import Mapping
from pathlib import Path

from mlflow_gitlab.context.git_repo import from_git
from mlflow_gitlab.context.gitlab_ci import from_environment, is_gitlab_ci
from mlflow_gitlab.context.model import CIContext, User


def collect_context(env: Mapping[str, str] | None = None, cwd: Path | str = ".") -> CIContext:
    """The context of this process: from CI variables in a GitLab job, else from git.

    Pure apart from reading the local repository outside CI; no network, no mlflow import.
    """
    env = os.environ if env is None else env
    if is_gitlab_ci(env):
        return from_environment(env)
    return CIContext(in_ci=False, commit=from_git(cwd), user=User(login=_local_user(env)))


def _local_user(env: Mapping[str, str]) -> str | None:
    try:
        return env.get("USER") or getpass.getuser()
    except (KeyError, OSError):
        return None
