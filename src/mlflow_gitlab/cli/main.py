"""The `mlflow-gitlab` command group and the one place that turns errors into exit codes."""

from __future__ import annotations

import sys
import traceback
from typing import Any, NoReturn

import click

from mlflow_gitlab import __version__
from mlflow_gitlab.cli import printer
from mlflow_gitlab.errors import MlflowGitlabError
from mlflow_gitlab.log import configure_logging

_NO_ARGS_IS_HELP = getattr(click.exceptions, "NoArgsIsHelpError", ())  # click >= 8.2


class _Group(click.Group):
    """A click group whose subcommands load lazily and whose errors print as one line."""

    _lazy = {
        "context": "mlflow_gitlab.cli.context:context",
        "download": "mlflow_gitlab.cli.download:download",
        "init": "mlflow_gitlab.cli.init:init",
        "relay": "mlflow_gitlab.cli.relay:relay",
        "release": "mlflow_gitlab.cli.release:release",
        "report": "mlflow_gitlab.cli.report:report",
        "run": "mlflow_gitlab.cli.run:run",
        "runs": "mlflow_gitlab.cli.runs:runs",
        "sandbox": "mlflow_gitlab.cli.sandbox:sandbox",
        "sync": "mlflow_gitlab.cli.sync:sync",
        "tune": "mlflow_gitlab.cli.tune:tune",
        "upload": "mlflow_gitlab.cli.upload:upload",
        "versions": "mlflow_gitlab.cli.versions:versions",
    }

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self._lazy})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in self._lazy:
            module_name, attr = self._lazy[name].split(":")
            module = __import__(module_name, fromlist=[attr])
            return getattr(module, attr)
        return super().get_command(ctx, name)

    def make_context(self, info_name: str | None, args: list[str],
                     parent: click.Context | None = None, **extra: Any) -> click.Context:
        try:
            return super().make_context(info_name, args, parent, **extra)
        except click.UsageError as exc:
            _usage_error(exc, info_name or "mlflow-gitlab")

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except MlflowGitlabError as exc:
            verbosity = ctx.obj.get("verbose", 0) if isinstance(ctx.obj, dict) else 0
            if verbosity >= 2:
                traceback.print_exc()
            printer.error(str(exc), exc.hint)
            sys.exit(exc.exit_code)
        except click.UsageError as exc:
            _usage_error(exc, ctx.command_path)
        except KeyboardInterrupt:
            printer.note("interrupted")
            sys.exit(130)


def _usage_error(exc: click.UsageError, command_path: str) -> NoReturn:
    """Print a usage error as our one `error:` line and a `hint:`, rather than click's block."""
    if isinstance(exc, _NO_ARGS_IS_HELP):  # a bare group: its help is the answer
        exc.show()
        sys.exit(exc.exit_code)
    command = exc.ctx.command_path if exc.ctx is not None else command_path
    printer.error(exc.format_message(), f"see '{command} --help'")
    sys.exit(exc.exit_code)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="mlflow-gitlab")
@click.option("-v", "--verbose", count=True, help="More output; -vv shows tracebacks.")
@click.pass_context
def cli(ctx: click.Context, verbose: int) -> None:
    """Run MLflow experiments inside GitLab CI."""
    ctx.obj = {"verbose": verbose}
    configure_logging(verbose)


def main() -> None:
    """Console-script entry point: every line the process prints goes through the redactor."""
    printer.guard_streams()
    cli(prog_name="mlflow-gitlab", auto_envvar_prefix="MLFLOW_GITLAB")
