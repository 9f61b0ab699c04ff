"""How package files move: files in flight at once, and the server's per-file limit."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from mlflow_gitlab import env as variables

# GitLab's `generic_packages_max_file_size` plan limit
DEFAULT_MAX_FILE_SIZE: int = variables.MAX_FILE_SIZE.default  # type: ignore[assignment]

@dataclass(frozen=True)
class TransferSettings:
    """How package files move: files in flight at once, and the server's per-file limit."""

    parallel: int = 4
    max_file_size: int = DEFAULT_MAX_FILE_SIZE  # 0: no limit, never split


def transfer_settings(env: Mapping[str, str] | None = None, *, parallel: int | None = None,
                      max_file_size: str | int | None = None) -> TransferSettings:
    """MLFLOW_GITLAB_PARALLEL and MLFLOW_GITLAB_MAX_FILE_SIZE, unless given explicitly.

    Raises:
        ConfigError: a value is malformed; the message names the variable.
    """
    env = os.environ if env is None else env
    if parallel is None:
        parallel = variables.PARALLEL.read(env)
    if max_file_size is None:
        max_file_size = variables.MAX_FILE_SIZE.read(env)
    if isinstance(max_file_size, str):
        max_file_size = variables.size(max_file_size, "--max-file-size")
    return TransferSettings(parallel, max_file_size)


def follow_symlinks(given: bool = False, env: Mapping[str, str] | None = None) -> bool:
    """--follow-symlinks, else MLFLOW_GITLAB_FOLLOW_SYMLINKS."""
    return given or bool(variables.FOLLOW_SYMLINKS.read(os.environ if env is None else env))
