"""`mlflow-gitlab report`: compare this pipeline's candidates with a baseline, on the MR."""

from __future__ import annotations

from pathlib import Path

import click

from mlflow_gitlab import env as variables
from mlflow_gitlab.cli import common_options


@click.command()
@click.option("--metric", required=True, metavar="KEY", help="The metric to compare by.")
@common_options.mode
@click.option("--baseline", type=click.Choice(["latest-version", "target-branch"]),
              help="Compare with the latest version of --model, or with the best run of the "
                   "target branch's latest successful pipeline [default: latest-version with "
                   "--model, else target-branch].")
@click.option("--model", help="Registered model whose latest version is the baseline; also "
                              "names the note.")
@click.option("--experiment", envvar=variables.EXPERIMENT_NAME.name,
              help="Where the runs are [default: MLFLOW_EXPERIMENT_NAME, else the project "
                   "name].")
@click.option("--scope", type=click.Choice(["pipeline", "merge-request"]), default="pipeline",
              show_default=True, help="Candidates of this pipeline, or of every pipeline of "
                                      "this merge request.")
@click.option("--top", type=click.IntRange(min=1), default=10, show_default=True,
              help="Candidates shown row by row; the rest are summarized.")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path),
              default=Path("report.md"), show_default=True,
              help="Write the Markdown report here (keep it as a job artifact).")
@click.option("--metrics-file", type=click.Path(dir_okay=False, path_type=Path),
              default=Path("metrics.txt"), show_default=True,
              help="Write the winner's metrics here, for `artifacts:reports:metrics`.")
@click.option("--template", type=click.Path(dir_okay=False, path_type=Path),
              help="A Jinja2 template replacing (or extending) the default one.")
@click.option("--note/--no-note", default=True, show_default=True,
              help="Post the report as the merge request's note, updated in place.")
@common_options.tracking_uri
def report(metric: str, mode: str, baseline: str | None, model: str | None,
           experiment: str | None, scope: str, top: int, output: Path, metrics_file: Path,
           template: Path | None, note: bool, tracking_uri: str | None) -> None:
    """Compare candidate runs with a baseline and post the result on the merge request.

    Renders a Markdown report (the winner, a table with params, metrics and deltas against
    the baseline, a chart) to --output and --metrics-file, and posts it as one note of the
    merge request that later pipelines update in place. Posting needs MLFLOW_GITLAB_TOKEN
    (an access token with the `api` scope); without it, or outside a merge request, only
    the files are written, and the command still exits 0.

    Example:

        mlflow-gitlab report --metric val_loss --mode min --model churn
    """
    from mlflow_gitlab.report.flow import make_report
    from mlflow_gitlab.report.options import ReportOptions

    make_report(ReportOptions(
        metric=metric, mode=mode, baseline=baseline, model=model, experiment=experiment,
        scope=scope, top=top, output=output, metrics_file=metrics_file, template=template,
        note=note, tracking_uri=tracking_uri))
