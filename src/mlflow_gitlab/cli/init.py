"""`mlflow-gitlab init`: write a working `.gitlab-ci.yml` that uses our CI/CD components."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import click

from mlflow_gitlab.cli import printer


@click.command()
@click.option("--tune/--no-tune", default=True, show_default=True,
              help="Fan out candidates in merge requests, report them and prerelease the best.")
@click.option("--release/--no-release", default=True, show_default=True,
              help="Release the next model version from every default-branch pipeline.")
@click.option("--schedule/--no-schedule", default=False, show_default=True,
              help="Retrain on a pipeline schedule and release the result.")
@click.option("--model", help="Registered model name the releases go to.")
@click.option("--metric", metavar="KEY", help="Metric that ranks runs, e.g. val_loss.")
@click.option("--mode", type=click.Choice(["min", "max"]), default="min", show_default=True,
              help="Whether lower or higher --metric values are better.")
@click.option("--command", default="python train.py", show_default=True,
              help="The training command of the jobs.")
@click.option("--experiment", help="MLflow experiment [default: the project name].")
@click.option("--requirements", help="Extra pip install arguments, e.g. '-r requirements.txt'.")
@click.option("--artifacts", help="Files or folders each run uploads, e.g. 'outputs'.")
@click.option("--space", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A search space for the tuning matrix (see `tune matrix`).")
@click.option("--components", default="mlflow-gitlab/components", show_default=True,
              help="Path of the components' catalog project on your GitLab instance.")
@click.option("--output", "-o", default=".gitlab-ci.yml", show_default=True,
              help="Where to write it; `-` prints it.")
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
def init(space: Path | None, output: str, force: bool, **options: object) -> None:
    """Write a `.gitlab-ci.yml` that trains, tunes and releases with our components.

    The file's header lists the CI/CD variables it needs: one masked variable,
    MLFLOW_TRACKING_TOKEN, holding an access token with the `api` scope.

    Example:

        mlflow-gitlab init --model churn --metric val_auc --mode max --schedule
    """
    from mlflow_gitlab.scaffold import Choices, generate, write

    fields = {f.name for f in dataclasses.fields(Choices)}
    choices = Choices(**{k: v for k, v in options.items() if k in fields and v is not None})
    text = generate(choices, space)
    if output == "-":
        printer.result(text, nl=False)
        return
    write(text, Path(output), force)
    printer.note(f"wrote {output}; add the masked CI/CD variable MLFLOW_TRACKING_TOKEN (an access "
               "token with the `api` scope, Developer role)")
