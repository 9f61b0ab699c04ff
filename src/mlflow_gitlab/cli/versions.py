"""`mlflow-gitlab versions`: a model's versions, newest first, with the runs they came from."""

from __future__ import annotations

import json

import click

from mlflow_gitlab.cli import common_options, printer


@click.command()
@click.option("--model", required=True, help="The registered model.")
@click.option("--metric", metavar="KEY",
              help="Show this metric of each version (recorded by the release, else its "
                   "source run's).")
@click.option("--limit", type=click.IntRange(min=0), default=20, show_default=True, metavar="N",
              help="Show the newest N versions; 0 shows all.")
@common_options.tracking_uri
@click.option("--json", "as_json", is_flag=True, help="Print the versions as one JSON object.")
def versions(model: str, metric: str | None, limit: int, tracking_uri: str | None,
             as_json: bool) -> None:
    """Show the versions of --model, newest semver first, with their source runs.

    Each version with its state (latest, prerelease, incomplete), when it was created, the
    run it was released from (its name and id, --metric), and that run's pipeline and job.
    The table fits the terminal's width (or COLUMNS). A model without versions prints a
    line saying so on stderr and exits 0; a model that does not exist is an error.

    Example:

        mlflow-gitlab versions --model churn --metric val_loss
    """
    from mlflow_gitlab.show.table import render, terminal_width
    from mlflow_gitlab.show.version_columns import version_columns
    from mlflow_gitlab.show.versions import model_view

    view = model_view(model=model, metric=metric, limit=limit, tracking_uri=tracking_uri)
    if as_json:
        printer.result(json.dumps(view.as_json(), indent=2))
        return
    if not view.rows:
        printer.note(f"model {view.model!r} has no versions yet")
        return
    lines, left_out = render(version_columns(view), terminal_width())
    for line in lines:
        printer.result(line)
    if len(view.rows) < view.total:
        printer.note(f"the newest {len(view.rows)} of {view.total} versions; --limit 0 shows "
                     "all")
    if left_out:
        printer.note(f"{len(left_out)} column(s) left out to fit the terminal: "
                     f"{', '.join(left_out)} (see --json)")
