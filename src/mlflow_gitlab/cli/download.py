"""`mlflow-gitlab download`: a GitLab generic package's files, verified against its manifest."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from mlflow_gitlab.cli.package_target import echo_result, package_target_options, target_from


@click.command()
@package_target_options
@click.option("--dest", type=click.Path(file_okay=False, path_type=Path), default=Path("."),
              show_default=True, help="Folder to write the files into.")
def download(package: str | None, version: str | None, run_id: str | None,
             gitlab_url: str | None, project: str | None, tracking_uri: str | None,
             parallel: int | None, as_json: bool, dest: Path) -> None:
    """Download a generic package uploaded by `mlflow-gitlab upload` into --dest.

    Reads the package's `manifest.json` (a package without one is an incomplete upload),
    refuses any path that would land outside --dest, and verifies every file's size and
    SHA-256; split files are reassembled. Files already in --dest with the right SHA-256
    are kept. With --run, the run's package is found from its tags. Prints the folder
    (or a JSON summary with --json).

    Example:

        mlflow-gitlab download --run "$MLFLOW_RUN_ID" --dest restored/
    """
    from mlflow_gitlab.packages import progress_for
    from mlflow_gitlab.packages.run_outputs import download as download_outputs
    from mlflow_gitlab.settings import transfer_settings

    result = download_outputs(
        dest, target_from(package, version, run_id, gitlab_url, project, tracking_uri),
        transfer=transfer_settings(parallel=parallel), progress=progress_for(sys.stderr))
    manifest = result.manifest
    echo_result({"package": manifest.package, "version": manifest.version,
                 "dest": str(result.dest), "files": len(manifest.files),
                 "bytes": manifest.total_size, "downloaded": result.downloaded,
                 "kept": result.kept}, str(result.dest), as_json)
