"""Options shared by `upload` and `download`: which package, where GitLab is, how to transfer."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import click

from mlflow_gitlab import env as variables
from mlflow_gitlab.cli import printer

F = Callable[..., Any]


def package_target_options(command: F) -> F:
    """Add --package/--version, --run, --gitlab-url, --project, --tracking-uri, --parallel,
    --json to `command`."""
    options = [
        click.option("--package", help="Generic package name (with --version)."),
        click.option("--version", "version",
                     help="Package version (with --package), e.g. 1.2.0."),
        click.option("--run", "run_id", metavar="RUN_ID",
                     help="The MLflow run whose outputs these are: package "
                          "ml_experiment_<experiment id>, version <run id>."),
        click.option("--gitlab-url", envvar=variables.GITLAB_URL.name,
                     help="[default: MLFLOW_GITLAB_URL, else CI_API_V4_URL in a job]"),
        click.option("--project", envvar=variables.PROJECT.name,
                     help="Project id or path [default: MLFLOW_GITLAB_PROJECT, else "
                          "CI_PROJECT_ID in a job]"),
        click.option("--tracking-uri", envvar=variables.TRACKING_URI.name,
                     help="Where to look up --run [default: MLFLOW_TRACKING_URI]."),
        click.option("--parallel", type=click.IntRange(1, variables.MOST_IN_FLIGHT),
                     help="Files in flight at once [default: MLFLOW_GITLAB_PARALLEL, else 4]."),
        click.option("--json", "as_json", is_flag=True,
                     help="Print a JSON summary on stdout instead of one line."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def target_from(package: str | None, version: str | None, run_id: str | None,
                gitlab_url: str | None, project: str | None, tracking_uri: str | None) -> Any:
    """A `PackageTarget` from the shared options."""
    from mlflow_gitlab.packages.run_outputs import PackageTarget

    return PackageTarget(package=package, version=version, run_id=run_id,
                         gitlab_url=gitlab_url, project=project, tracking_uri=tracking_uri)


def echo_result(summary: dict[str, Any], line: str, as_json: bool) -> None:
    """The machine output: `summary` as JSON with --json, else `line`."""
    printer.result(json.dumps(summary, sort_keys=True) if as_json else line)
