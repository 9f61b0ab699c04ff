"""Options several commands share, declared once: where to track, which experiment, which
way a metric is better."""

from __future__ import annotations

import click

from mlflow_gitlab import env as variables

tracking_uri = click.option(
    "--tracking-uri", envvar=variables.TRACKING_URI.name,
    help="[default: MLFLOW_TRACKING_URI, else the project's GitLab MLflow endpoint]")

pipeline_experiment = click.option(
    "--experiment", envvar=variables.EXPERIMENT_NAME.name,
    help="Where the pipeline's runs are [default: MLFLOW_EXPERIMENT_NAME, else the project "
         "name].")

mode = click.option(
    "--mode", type=click.Choice(["min", "max"]), default="min", show_default=True,
    help="Whether lower or higher --metric values are better.")
