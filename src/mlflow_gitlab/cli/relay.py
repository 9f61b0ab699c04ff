"""`mlflow-gitlab relay`: serve the local tracking relay until interrupted."""

from __future__ import annotations

import logging

import click

from mlflow_gitlab import env as variables
from mlflow_gitlab.cli import printer

log = logging.getLogger("mlflow_gitlab.cli")


@click.command()
@click.option("--port", default=0, show_default=True, type=click.IntRange(0, 65535),
              help="Port to listen on (127.0.0.1); 0 picks a free one.")
@click.option("--tracking-uri", envvar=variables.TRACKING_URI.name,
              help="The real tracking server [default: MLFLOW_TRACKING_URI, else the "
                   "project's GitLab MLflow endpoint in a CI job].")
def relay(port: int, tracking_uri: str | None) -> None:
    """Serve a local MLflow tracking endpoint that relays to the real server.

    Prints the relay's URI on stdout: point MLFLOW_TRACKING_URI at it in the notebook or
    script, without any token. The relay adds MLFLOW_TRACKING_TOKEN itself, serves only the
    project's MLflow routes (anything else gets 404), sends metrics in batches, and lets
    MLflow 3 log and load models on GitLab. Stop it with Ctrl-C: it
    sends what is still queued first.

    Example:

        mlflow-gitlab relay --port 5005   # then: MLFLOW_TRACKING_URI=http://127.0.0.1:5005
    """
    from mlflow_gitlab.relay.standalone import serve_relay

    summary = serve_relay(printer.result, tracking_uri=tracking_uri, port=port)
    log.info("%s", summary.line())
