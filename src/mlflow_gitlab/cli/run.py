"""`mlflow-gitlab run -- CMD`: run a command inside a tracked MLflow run."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from mlflow_gitlab import env as variables
from mlflow_gitlab.cli import common_options
from mlflow_gitlab.cli.key_values import key_values


@click.command(context_settings={"ignore_unknown_options": True})
@click.option("--experiment", envvar=variables.EXPERIMENT_NAME.name,
              help="Experiment name [default: MLFLOW_EXPERIMENT_NAME, else the project name].")
@click.option("--run-name", help="Run name [default: the job name and its matrix values].")
@click.option("--param", "params", multiple=True, metavar="KEY=VALUE",
              help="Log a parameter on the run (repeatable).")
@common_options.tracking_uri
@click.option("--dotenv", type=click.Path(dir_okay=False, path_type=Path),
              help="Write MLFLOW_RUN_ID and MLFLOW_EXPERIMENT_ID here for later jobs.")
@click.option("--artifacts", multiple=True, type=click.Path(path_type=Path), metavar="PATH",
              help="After COMMAND, upload this file or folder to the run's generic package "
                   "and tag the run with it (repeatable).")
@click.option("--follow-symlinks", is_flag=True,
              help="With --artifacts: upload what a symlink in a folder points to even "
                   "outside the folder (refused otherwise) "
                   "[default: MLFLOW_GITLAB_FOLLOW_SYMLINKS].")
@click.option("--no-relay", is_flag=True,
              help="Let COMMAND talk to the tracking server directly, with "
                   "MLFLOW_TRACKING_TOKEN (and no other token), instead of through the local "
                   "relay (docs/relay.md).")
@click.option("--no-journal", is_flag=True,
              help="Let COMMAND send its metric points to the relay one HTTP request per "
                   "call instead of appending them to the relay's journal file (slower).")
@click.option("--keep-job-token", is_flag=True,
              help="Leave CI_JOB_TOKEN (and the variables GitLab derives from it) in "
                   "COMMAND's environment, e.g. to install from the project's package "
                   "registry; COMMAND gets no other API token (docs/relay.md).")
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
def run(experiment: str | None, run_name: str | None, params: tuple[str, ...],
        tracking_uri: str | None, dotenv: Path | None, artifacts: tuple[Path, ...],
        follow_symlinks: bool, no_relay: bool, no_journal: bool, keep_job_token: bool,
        command: tuple[str, ...]) -> None:
    """Run COMMAND inside a new MLflow run tagged with the GitLab CI context.

    The command gets MLFLOW_RUN_ID, MLFLOW_TRACKING_URI and MLFLOW_EXPERIMENT_ID, so plain
    `mlflow` calls in it log to that run. The run ends FINISHED, FAILED or KILLED, and this
    command exits with COMMAND's exit code. With --artifacts, the paths are uploaded to the
    run's generic package after COMMAND; if that fails, the run ends FAILED.

    COMMAND tracks through a local relay: its MLFLOW_TRACKING_URI points at the relay, which
    holds the token, sends metrics in batches and lets MLflow 3 log models on GitLab; every
    point is sent before the run ends. COMMAND gets no API token: not MLFLOW_TRACKING_TOKEN
    (unless --no-relay), MLFLOW_GITLAB_TOKEN or CI_JOB_TOKEN (unless --keep-job-token).

    Example:

        mlflow-gitlab run --param lr=0.1 --dotenv run.env --artifacts outputs -- python train.py
    """
    from mlflow_gitlab.packages.progress import progress_for
    from mlflow_gitlab.run.flow import RunOptions, run_tracked
    from mlflow_gitlab.settings import follow_symlinks as follows

    options = RunOptions(command=command, experiment=experiment, run_name=run_name,
                         params=key_values("--param", params), tracking_uri=tracking_uri,
                         dotenv=dotenv,
                         artifacts=artifacts, follow_symlinks=follows(follow_symlinks),
                         progress=progress_for(sys.stderr),
                         relay=not no_relay, journal=not no_journal,
                         keep_job_token=keep_job_token)
    sys.exit(run_tracked(options))
