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
@click.option("--requirements", help="Extra pip install arguments, e.g. '-r requirements.txt' "
                                     "[default: that, when requirements.txt exists or is "
                                     "written].")
@click.option("--artifacts", help="Files or folders each run uploads, e.g. 'outputs' "
                                  "[default: outputs, when init writes train.py].")
@click.option("--space", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A search space for the tuning matrix (see `tune matrix`) [default: "
                   "space.yml, written when missing].")
@click.option("--components", default="mlflow-gitlab/components", show_default=True,
              help="Path of the components' catalog project on your GitLab instance.")
@click.option("--output", "-o", default=".gitlab-ci.yml", show_default=True,
              help="Where to write it; `-` prints it (and writes no other file).")
@click.option("--force", is_flag=True,
              help="Overwrite an existing .gitlab-ci.yml (other files are never overwritten).")
def init(space: Path | None, output: str, force: bool, **options: object) -> None:
    """Write a `.gitlab-ci.yml` that trains, tunes and releases with our components.

    Next to it, where they are missing, it writes a starting point: a `train.py`
    (plain `mlflow` calls), a `space.yml` for tuning and a `requirements.txt`.
    Existing files are kept and used. It ends by saying what to do next: add one
    masked CI/CD variable, MLFLOW_TRACKING_TOKEN, holding an access token with
    the `api` scope, and make the components available on your instance.

    Example:

        mlflow-gitlab init --model churn --metric val_auc --mode max --schedule
    """
    from mlflow_gitlab.scaffold import pipeline as scaffold
    from mlflow_gitlab.scaffold import starter

    fields = {f.name for f in dataclasses.fields(scaffold.Choices)}
    choices = scaffold.Choices(**{k: v for k, v in options.items()
                                  if k in fields and v is not None})
    scaffold.check(choices)
    if output == "-":
        printer.result(scaffold.generate(choices, space), nl=False)
        return
    target = Path(output)
    scaffold.check_target(target, force)
    start = starter.plan(choices, target.parent, space)
    text = scaffold.generate(start.choices, start.space, starter.space_text(start))
    starter.write(start)
    scaffold.write(text, target, force)
    for line in scaffold.next_steps(start.choices, target, start.new, start.kept):
        printer.note(line)
