"""Which experiment a job's runs go to: the one rule `run`, `release` and `report` share."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from mlflow_gitlab import env as variables
from mlflow_gitlab.context import CIContext
from mlflow_gitlab.context.remote import remote_project


def experiment_name(given: str | None, env: Mapping[str, str], context: CIContext) -> str:
    """`given` (--experiment), else MLFLOW_EXPERIMENT_NAME, else the project's name as CI
    names it (`CI_PROJECT_NAME`: the last part of its path, which outside CI the git
    remote's URL gives), else the current folder's."""
    remote = remote_project(context.commit.remote_url)
    return (given or variables.EXPERIMENT_NAME.read(env) or env.get("CI_PROJECT_NAME")
            or (context.project.path or (remote[1] if remote else "")).rpartition("/")[2]
            or Path.cwd().name)
