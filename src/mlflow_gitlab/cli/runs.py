"""`mlflow-gitlab runs`: a pipeline's runs with their metrics, best first, on the terminal."""

from __future__ import annotations

import json

import click

from mlflow_gitlab.cli import common_options, printer


@click.command()
@click.option("--pipeline", "pipeline_id", type=click.IntRange(min=1), metavar="ID",
              help="The pipeline whose runs to show [default: this job's CI_PIPELINE_ID; "
                   "required outside GitLab CI].")
@click.option("--metric", metavar="KEY", help="Order the runs by this metric, best first; "
                                              "runs without it come last.")
@common_options.mode
@click.option("--columns", metavar="LIST",
              help="Comma-separated columns instead of the default ones: rank, name, status, "
                   "id, started, job, job_url, run_url, params, metrics.KEY, params.KEY, "
                   "tags.KEY.")
@common_options.pipeline_experiment
@common_options.tracking_uri
@click.option("--json", "as_json", is_flag=True,
              help="Print every run, with all metrics and params, as one JSON object.")
def runs(pipeline_id: int | None, metric: str | None, mode: str, columns: str | None,
         experiment: str | None, tracking_uri: str | None, as_json: bool) -> None:
    """Show the runs of a pipeline with their metrics, the best first.

    Lists every run tagged with the pipeline or one of its child pipelines (the job runs of
    `mlflow-gitlab run`, runs their scripts started inside them, runs of jobs that only
    installed the package), in any status; the pipelines' parent runs are left out. With
    --metric, ordered best first by --mode (the earliest run first on a tie) with runs that
    did not log it last; without, newest first. The table fits the terminal's width (or
    COLUMNS); piped, it is not cut. A pipeline without runs prints a line saying so on
    stderr and exits 0. GitLab's run search needs a token with the `api` scope (it is a
    POST).

    Example:

        mlflow-gitlab runs --pipeline 1234 --metric val_loss --mode min
    """
    from mlflow_gitlab.show.run_columns import chosen_columns, default_columns, parse_columns
    from mlflow_gitlab.show.runs import pipeline_view
    from mlflow_gitlab.show.table import render, terminal_width

    names = parse_columns(columns) if columns is not None else None
    view = pipeline_view(pipeline=pipeline_id, metric=metric, mode=mode,
                         experiment=experiment, tracking_uri=tracking_uri)
    if as_json:
        printer.result(json.dumps(view.as_json(), indent=2))
        return
    if not view.rows:
        printer.note(f"no runs of pipeline {view.pipeline_id} in experiment "
                     f"{view.experiment!r} ({view.scanned} runs read)")
        return
    table = chosen_columns(view, names) if names else default_columns(view)
    lines, left_out = render(table, terminal_width())
    for line in lines:
        printer.result(line)
    if left_out:
        printer.note(f"{len(left_out)} column(s) left out to fit the terminal: "
                     f"{', '.join(left_out)} (see --columns, --json)")
