"""`mlflow-gitlab sandbox`: run the local GitLab-compatible server."""

from __future__ import annotations

import json
import signal
import tempfile
from pathlib import Path

import click

from mlflow_gitlab.cli import printer
from mlflow_gitlab.output.env_lines import FORMATS, render_env


@click.group()
def sandbox() -> None:
    """The local server that speaks the part of GitLab's API we use."""


@sandbox.command()
@click.option("--host",
              help="Address to listen on; any other than loopback prints a warning "
                   "[default: the --data folder's recorded host, else 127.0.0.1].")
@click.option("--port", type=click.IntRange(0, 65535),
              help="Port to listen on; 0 picks a free one [default: the --data folder's "
                   "recorded port, else 0]. The folder records the port it is served on.")
@click.option("--data", "data_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Keep state here across restarts, private to you (0700), and the address "
                   "it was served on, so its links stay valid [default: a temporary folder].")
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
def serve(host: str | None, port: int | None, data_dir: Path | None, ready_file: Path | None,
          generic_max_file_size: int, no_generic_duplicates: bool,
          workhorse_length_status: str, ml_model_max_file_size: int, pypi_max_file_size: int,
          register_unknown_jobs: bool) -> None:
    """Serve until interrupted; print the ready JSON (URLs, ids, tokens) on stdout.

    The control routes (`/-/sandbox/...`) need the ready JSON's `admin_token`. A `--data`
    folder is served again at the address it was last served on (its runs, notes and job
    variables hold links to it), unless `--host` or `--port` say otherwise.

    Example:

        mlflow-gitlab sandbox serve --port 8929 --data .sandbox --ready-file ready.json
    """
    from mlflow_gitlab.sandbox.address import choose, recorded_port_taken
    from mlflow_gitlab.sandbox.app import Settings
    from mlflow_gitlab.sandbox.exposure import exposure_warning
    from mlflow_gitlab.sandbox.server import CannotListen, start, write_ready_file

    settings = Settings(generic_max_file_size=generic_max_file_size,
                        generic_duplicates=not no_generic_duplicates,
                        workhorse_length_status=int(workhorse_length_status),
                        ml_model_max_file_size=ml_model_max_file_size,
                        pypi_max_file_size=pypi_max_file_size,
                        register_unknown_jobs=register_unknown_jobs)
    host, port, reused = choose(data_dir, host, port)
    with tempfile.TemporaryDirectory(prefix="mlflow-gitlab-sandbox-") as tmp:
        try:
            server = start(data_dir or Path(tmp), host, port, settings, background=False)
        except CannotListen as exc:
            if reused is None or data_dir is None:
                raise
            raise recorded_port_taken(data_dir, reused, exc.reason) from exc
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


@sandbox.command("env")
@click.option("--job", "job_id", type=click.IntRange(1), required=True,
              help="The job's id: a seeded one (5001...) or one a pipeline created.")
@click.option("--data", "data_dir", default=".sandbox", show_default=True,
              type=click.Path(file_okay=False, path_type=Path),
              help="The sandbox's data folder (that of `sandbox serve --data`).")
@click.option("--format", "fmt", type=click.Choice(FORMATS),
              default="shell", show_default=True,
              help="`export K='V'` lines for eval, KEY=value lines (as python-dotenv and "
                   "docker compose read them), or one JSON object.")
@click.option("--with-token", "token_key", metavar="KEY",
              help="Also set MLFLOW_TRACKING_TOKEN (a project CI/CD variable, which GitLab "
                   "does not predefine) to the sandbox's access token KEY: developer, "
                   "maintainer, ...")
def env(job_id: int, data_dir: Path, fmt: str, token_key: str | None) -> None:
    """Print the CI/CD variables GitLab sets for a job of the sandbox, to play it by hand.

    The URLs are the data folder's recorded address (the one `sandbox serve --data` serves
    it on again), and the job token is the job's own: it works while the job is `running`.
    The output holds tokens: it is meant to be used, not shared.

    Example:

        eval "$(mlflow-gitlab sandbox env --job 5001 --data .sandbox --with-token developer)"
    """
    from mlflow_gitlab.sandbox.job_env import job_env

    found = job_env(data_dir, job_id, token_key)
    # Deliberately unmasked, as the ready JSON of `serve`: the tokens are the point.
    printer.unmasked(render_env(found.variables, fmt))
    if found.status != "running":
        printer.note(f"note: job {job_id} is {found.status}: its CI_JOB_TOKEN works only while "
                     f"it runs (PUT {found.url}/-/sandbox/jobs/{job_id} "
                     "'{\"status\": \"running\"}' with the admin token)")
