"""`mlflow-gitlab sandbox`: run the local GitLab-compatible server."""

from __future__ import annotations

import json
import signal
import tempfile
from pathlib import Path

import click

from mlflow_gitlab.cli import printer


@click.group()
def sandbox() -> None:
    """The local server that speaks the part of GitLab's API we use."""


@sandbox.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; any other than loopback prints a warning.")
@click.option("--port", default=0, show_default=True, type=click.IntRange(0, 65535),
              help="Port to listen on; 0 picks a free one.")
@click.option("--data", "data_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Keep state here across restarts, private to you (0700) "
                   "[default: a temporary folder].")
@click.option("--ready-file", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the ready JSON here (0600) once the server accepts requests.")
@click.option("--generic-max-file-size", type=click.IntRange(0), default=5 * 1024**3,
              show_default=True, help="Per-file limit for generic packages, bytes (0: none).")
@click.option("--no-generic-duplicates", is_flag=True,
              help="Refuse a generic package file whose name the package already holds (400 "
                   "\"Duplicate package is not allowed\"), as a group with \"Allow duplicates\" "
                   "off does.")
@click.option("--workhorse-length-status", type=click.Choice(["413", "500"]), default="413",
              show_default=True,
              help="Status for an upload whose Content-Length is over a limit: 413 (current "
                   "GitLab) or 500 (older GitLab).")
@click.option("--ml-model-max-file-size", type=click.IntRange(0), default=10 * 1024**3,
              show_default=True, help="Per-file limit for ML model packages, bytes.")
@click.option("--pypi-max-file-size", type=click.IntRange(0), default=3 * 1024**3,
              show_default=True, help="Per-file limit for PyPI packages, bytes (0: none).")
@click.option("--register-unknown-jobs", is_flag=True,
              help="Register the job a run's gitlab.CI_JOB_ID names when it is unknown, instead "
                   "of GitLab's 500 (for local runners such as gitlab-ci-local).")
def serve(host: str, port: int, data_dir: Path | None, ready_file: Path | None,
          generic_max_file_size: int, no_generic_duplicates: bool,
          workhorse_length_status: str, ml_model_max_file_size: int, pypi_max_file_size: int,
          register_unknown_jobs: bool) -> None:
    """Serve until interrupted; print the ready JSON (URLs, ids, tokens) on stdout.

    The control routes (`/-/sandbox/...`) need the ready JSON's `admin_token`.

    Example:

        mlflow-gitlab sandbox serve --port 0 --data .sandbox --ready-file ready.json
    """
    from mlflow_gitlab.sandbox.app import Settings
    from mlflow_gitlab.sandbox.exposure import exposure_warning
    from mlflow_gitlab.sandbox.server import start, write_ready_file

    settings = Settings(generic_max_file_size=generic_max_file_size,
                        generic_duplicates=not no_generic_duplicates,
                        workhorse_length_status=int(workhorse_length_status),
                        ml_model_max_file_size=ml_model_max_file_size,
                        pypi_max_file_size=pypi_max_file_size,
                        register_unknown_jobs=register_unknown_jobs)
    with tempfile.TemporaryDirectory(prefix="mlflow-gitlab-sandbox-") as tmp:
        server = start(data_dir or Path(tmp), host, port, settings, background=False)
        signal.signal(signal.SIGTERM, lambda *_: _stop(server))
        try:
            warning = exposure_warning(host, server.url)
            if warning is not None:
                printer.note(warning)
            if ready_file is not None:
                write_ready_file(server, ready_file)
            printer.unmasked(json.dumps(server.ready_info()))
            printer.note(f"sandbox listening on {server.url} (Ctrl-C to stop)")
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.app.store.close()
            server._server.server_close()


def _stop(server) -> None:
    raise KeyboardInterrupt
