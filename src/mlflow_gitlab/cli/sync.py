"""`mlflow-gitlab sync`: send the metric points the relay kept in its spool."""

from __future__ import annotations

import logging
from pathlib import Path

import click

from mlflow_gitlab import env as variables
from mlflow_gitlab.cli import common_options

log = logging.getLogger("mlflow_gitlab.cli")


@click.command()
@click.option("--spool", type=click.Path(file_okay=False, path_type=Path),
              envvar=variables.SPOOL.name,
              help="The spool folder [default: MLFLOW_GITLAB_SPOOL, else .mlflow-gitlab/spool].")
@common_options.tracking_uri
def sync(spool: Path | None, tracking_uri: str | None) -> None:
    """Send the metric points the relay could not send in time, without duplicates.

    When the tracking server stayed unreachable past the retry budget, `run` and `relay`
    keep the points they could not send in a spool folder; a killed `run` leaves its
    metric journal there too. This sends the points the server does not hold yet, deletes
    what was sent, and ends a killed `run`'s run KILLED. A file it cannot read or send is
    reported in one line and kept, and the others are still sent; it exits 1 if anything
    is left.

    Example:

        mlflow-gitlab sync --spool .mlflow-gitlab/spool
    """
    from mlflow_gitlab.errors import SpoolNotEmpty
    from mlflow_gitlab.relay.config import relay_config
    from mlflow_gitlab.relay.sync import sync_spool
    from mlflow_gitlab.settings import tracking_settings

    result = sync_spool(tracking_settings(tracking_uri=tracking_uri),
                        relay_config(spool=spool))
    if result.files:
        log.info("sync: %d point(s) in %d file(s): %d sent, %d already stored, %d left",
                 result.points, result.files, result.sent, result.already_stored,
                 result.left)
    if len(result.bad) == 1 and not result.left:
        raise SpoolNotEmpty(f"sync: {result.bad[0]} (kept, not sent)",
                            hint="fix or remove it, then sync again")
    for bad in result.bad:
        log.error("sync: %s (kept, not sent)", bad)
    if result.bad:
        raise SpoolNotEmpty(f"{len(result.bad)} file(s) of the spool could not be sent "
                            f"(listed above){_and_left(result.left)}")
    if result.left:
        raise SpoolNotEmpty(f"{result.left} metric point(s) are still in the spool",
                            hint="the tracking server is still unavailable; sync again later")


def _and_left(left: int) -> str:
    return f", and {left} metric point(s) are still in the spool" if left else ""
