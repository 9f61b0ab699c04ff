"""`mlflow-gitlab release`: make this pipeline's best run the next semver model version."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import click

from mlflow_gitlab.cli import common_options, printer
from mlflow_gitlab.errors import NothingToRelease

log = logging.getLogger("mlflow_gitlab.release.flow")


@click.command()
@click.option("--model", required=True, help="Registered model name (created when missing).")
@click.option("--metric", metavar="KEY", help="Pick the pipeline's best run by this metric.")
@common_options.mode
@click.option("--bump", type=click.Choice(["auto", "major", "minor", "patch"]), default="auto",
              show_default=True, help="auto: from the model signatures, unless a `model::<kind>` "
                                      "MR label or a `Model-Bump: <kind>` commit trailer says.")
@click.option("--run", "run_id", metavar="RUN_ID", help="Release this run instead of picking one.")
@click.option("--prerelease", is_flag=True,
              help="In merge-request pipelines, release X.Y.Z-mr.<iid>.<n> (without it they "
                   "release nothing).")
@click.option("--max-regression", metavar="AMOUNT",
              help="Refuse a --metric worse than the latest version's by more than this: 2% "
                   "(relative) or 0.01 (absolute). Exit code 4.")
@click.option("--initial-version", default="1.0.0", show_default=True,
              help="The model's first version.")
@common_options.pipeline_experiment
@click.option("--model-path", metavar="DIR",
              help="The model's folder in the run's outputs or files [default: the one holding "
                   "MLmodel].")
@common_options.tracking_uri
@click.option("--dotenv", type=click.Path(dir_okay=False, path_type=Path),
              help="Write MODEL_NAME, MODEL_VERSION, ... here for later jobs.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.option("--strict", is_flag=True, help="Exit 3 when there is nothing to release.")
def release(model: str, metric: str | None, mode: str, bump: str, run_id: str | None,
            prerelease: bool, max_regression: str | None, initial_version: str,
            experiment: str | None, model_path: str | None, tracking_uri: str | None,
            dotenv: Path | None, as_json: bool, strict: bool) -> None:
    """Release this pipeline's best run as the next semver version of MODEL.

    Picks the best finished job run of this pipeline by --metric (or --run), decides the
    version (major for a breaking signature change, minor for new optional inputs, patch
    otherwise), creates it with the pipeline, job, MR, commit and run recorded on it, and
    copies the run's model files into its package. Re-running the job returns the version
    the pipeline already made. Prints the version on stdout.

    Exit codes: 0 released, or nothing to release; 3 nothing to release with --strict;
    4 the regression gate refused the candidate.

    Example:

        mlflow-gitlab release --model churn --metric val_loss --max-regression 2%
    """
    from mlflow_gitlab.release.flow import release as run_release
    from mlflow_gitlab.release.options import ReleaseOptions

    options = ReleaseOptions(
        model=model, metric=metric, mode=mode, bump=bump, run_id=run_id, prerelease=prerelease,
        max_regression=max_regression, initial_version=initial_version, experiment=experiment,
        model_path=model_path, tracking_uri=tracking_uri, dotenv=dotenv)
    try:
        result = run_release(options)
    except NothingToRelease as exc:
        if strict:
            raise
        log.info("nothing to release: %s", exc)
        if exc.hint:
            log.info("hint: %s", exc.hint)
        return
    log.info("released %s %s (%s)", result.name, result.version, result.web_url)
    printer.result(json.dumps(result.as_json()) if as_json else result.version)
