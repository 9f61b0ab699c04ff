"""`mlflow-gitlab context`: print what the helper knows about this job."""

from __future__ import annotations

import json
import shlex

import click

from mlflow_gitlab.cli import printer


@click.command()
@click.option("--format", "output_format",
              type=click.Choice(["text", "json", "env", "tags"]),
              envvar="MLFLOW_GITLAB_CONTEXT_FORMAT", default="text", show_default=True,
              help="Output format.")
def context(output_format: str) -> None:
    """Print the CI context of this job (from GitLab's variables, or git outside CI).

    `tags` prints the MLflow tags a run would get, as JSON; `env` prints shell-quoted
    KEY=VALUE lines that `eval` can load.

    Example:

        mlflow-gitlab context --format tags
    """
    from mlflow_gitlab import tags as t
    from mlflow_gitlab.context import collect_context
    from mlflow_gitlab.redaction import Redactor

    ctx = collect_context()
    redactor = Redactor.from_env()
    if output_format == "tags":
        printer.result(json.dumps(t.tags_for(ctx, redactor), indent=2, sort_keys=True))
        return
    flat = dict(_flatten(ctx.as_dict()))
    if output_format == "json":
        printer.result(redactor.redact(json.dumps(ctx.as_dict(), indent=2)))
    elif output_format == "env":
        for key, value in flat.items():
            printer.result(f"MLFLOW_GITLAB_CTX_{key.upper()}={shlex.quote(redactor.redact(value))}")
    else:
        width = max(map(len, flat), default=0)
        for key, value in flat.items():
            printer.result(f"{key:<{width}}  {redactor.redact(value)}")


def _flatten(data: dict, prefix: str = ""):
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            yield from _flatten(value, f"{name}_")
        elif value not in (None, "", [], ()):
            if isinstance(value, list | tuple):
                value = ",".join("=".join(map(str, v)) if isinstance(v, list | tuple) else str(v)
                                 for v in value)
            yield name, str(value)
