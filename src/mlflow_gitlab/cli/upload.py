"""`mlflow-gitlab upload PATH...`: files and folders to a GitLab generic package."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from mlflow_gitlab.cli.package_target import echo_result, package_target_options, target_from


@click.command()
@click.argument("paths", nargs=-1, required=True,
                type=click.Path(exists=True, path_type=Path))
@package_target_options
@click.option("--max-file-size", metavar="SIZE",
              help="The server's per-file limit; larger files are split into parts "
                   "[default: MLFLOW_GITLAB_MAX_FILE_SIZE, else 5GiB, GitLab's default; "
                   "0: never split].")
@click.option("--follow-symlinks", is_flag=True,
              help="Upload what a symlink in a folder points to even outside the folder "
                   "(refused otherwise) [default: MLFLOW_GITLAB_FOLLOW_SYMLINKS].")
@click.option("--replace", is_flag=True,
              help="Replace a file the package already holds under the same path with other "
                   "content (refused otherwise, before anything is sent).")
def upload(paths: tuple[Path, ...], package: str | None, version: str | None,
           run_id: str | None, gitlab_url: str | None, project: str | None,
           tracking_uri: str | None, parallel: int | None, as_json: bool,
           max_file_size: str | None, follow_symlinks: bool, replace: bool) -> None:
    """Upload PATHS (files and folders) to a GitLab generic package, with a manifest.

    Folders keep their name and inner paths. Files go up streamed and in parallel; each is
    checked against GitLab's SHA-256, and files already stored with the same SHA-256 are
    skipped, so re-running an interrupted upload finishes it. A symlink in a folder that
    points outside it, and a file name downloads would refuse, stop the upload before
    anything is sent. `manifest.json` (path, size,
    SHA-256 of every file) goes up last. A package that already has files keeps them: a
    later upload adds to its manifest, and a path already there with other content is
    refused unless --replace. With --run, the package is the run's
    (ml_experiment_<experiment id>, version <run id>) and the run is tagged with it.
    Prints the manifest's URL (or a JSON summary with --json).

    Example:

        mlflow-gitlab upload outputs/ metrics.json --run "$MLFLOW_RUN_ID"
    """
    from mlflow_gitlab.packages import progress_for
    from mlflow_gitlab.packages.run_outputs import upload as upload_outputs
    from mlflow_gitlab.settings import follow_symlinks as follows
    from mlflow_gitlab.settings import transfer_settings

    result = upload_outputs(
        paths, target_from(package, version, run_id, gitlab_url, project, tracking_uri),
        transfer=transfer_settings(parallel=parallel, max_file_size=max_file_size),
        progress=progress_for(sys.stderr), follow_symlinks=follows(follow_symlinks),
        replace=replace)
    manifest = result.manifest
    echo_result({"package": manifest.package, "version": manifest.version,
                 "manifest_url": result.manifest_url, "files": len(manifest.files),
                 "bytes": manifest.total_size, "uploaded": result.uploaded,
                 "skipped": result.skipped}, result.manifest_url, as_json)
