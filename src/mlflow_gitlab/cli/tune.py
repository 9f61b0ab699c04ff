"""`mlflow-gitlab tune`: turn a hyperparameter search space into GitLab jobs."""

from __future__ import annotations

import os
from pathlib import Path

import click

from mlflow_gitlab.cli import printer
from mlflow_gitlab.cli.key_values import key_values
from mlflow_gitlab.tuning.matrix_yaml import FORMATS
from mlflow_gitlab.tuning.space import STRATEGIES


@click.group()
def tune() -> None:
    """Hyperparameter tuning in merge requests: search spaces to `parallel:matrix`."""


@tune.command("matrix")
@click.option("--space", required=True, metavar="SPACE.yml",
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="The search space: `parameters:` with choices, ranges or distributions.")
@click.option("--strategy", type=click.Choice(STRATEGIES),
              help="Every combination, or distinct random ones [default: the file's, else grid].")
@click.option("--max-jobs", type=int,
              help="Jobs at most, 1..200 (GitLab's limit per matrix) [default: the file's, "
                   "else 200].")
@click.option("--seed", type=int, help="Random seed, e.g. $CI_PIPELINE_IID [default: the file's, "
                                       "else 0].")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="matrix", show_default=True,
              help="A `parallel:` block, the `tune` component's inputs, or a child pipeline.")
@click.option("--job-name", default="tune", show_default=True, help="Child pipeline: job name.")
@click.option("--image", help="Child pipeline: the job's image.")
@click.option("--script", "script", multiple=True, metavar="LINE",
              help="Child pipeline: a script line of the job (repeatable).")
@click.option("--variable", "variables", multiple=True, metavar="KEY=VALUE",
              help="Child pipeline: a job variable (repeatable).")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the YAML here instead of stdout (e.g. a child-pipeline artifact).")
def matrix(space: Path, strategy: str | None, max_jobs: int | None, seed: int | None, fmt: str,
           job_name: str, image: str | None, script: tuple[str, ...],
           variables: tuple[str, ...], output: Path | None) -> None:
    """Turn SPACE.yml into a `parallel:matrix` block or a child-pipeline YAML.

    Stays within GitLab's 200 jobs per matrix: a larger grid is an error that suggests
    `--strategy random --max-jobs N`. Matrix values are strings, as GitLab passes them.
    In a job, a child pipeline's job gets this pipeline's id as PARENT_PIPELINE_ID, so
    that `report` and `release` here compare the child's runs.

    Example:

        mlflow-gitlab tune matrix --space space.yml --strategy random --max-jobs 8
    """
    from mlflow_gitlab.context.gitlab_ci import from_environment, is_gitlab_ci
    from mlflow_gitlab.output.file import check_writable, write_text
    from mlflow_gitlab.tuning.matrix_yaml import fan_out

    if output is not None:
        check_writable(output, "matrix file", "--output")
    text, plan = fan_out(space.read_text(encoding="utf-8"), source=str(space),
                         strategy=strategy, max_jobs=max_jobs, seed=seed, fmt=fmt,
                         job_name=job_name, image=image, script=script,
                         variables=key_values("--variable", variables),
                         parent_pipeline_id=from_environment(os.environ).pipeline.id
                         if is_gitlab_ci(os.environ) else None)
    if output is None:
        printer.result(text, nl=False)
    else:
        write_text(output, text, "matrix file", "--output")
    printer.note(f"{plan.describe()}" + (f" -> {output}" if output else ""))
