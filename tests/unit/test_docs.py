"""The docs stay true: every tag and every command is documented."""

from __future__ import annotations

from pathlib import Path

import click

from mlflow_gitlab import tags
from mlflow_gitlab.cli.main import cli

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_every_tag_is_documented():
    text = (DOCS / "tags.md").read_text()
    names = [v for k, v in vars(tags).items() if k.isupper() and isinstance(v, str)
             and v.startswith(("gitlab.", "mlflow.", "mlflow-gitlab."))]
    assert names
    missing = [name for name in names if f"`{name}" not in text]
    assert missing == []


def _commands(group: click.Group, ctx: click.Context, prefix: str = ""):
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        path = f"{prefix}{name}"
        if isinstance(command, click.Group):
            yield from _commands(command, ctx, f"{path} ")
        else:
            yield path, command


def test_every_command_has_help_an_example_and_a_docs_entry():
    text = (DOCS / "cli.md").read_text()
    ctx = click.Context(cli)
    commands = list(_commands(cli, ctx))
    assert commands
    for path, command in commands:
        assert command.help and "Example:" in command.help, path
        assert f"## `mlflow-gitlab {path}`" in text, path


def test_cli_reference_is_generated_from_the_current_help():
    import subprocess
    import sys

    script = Path(__file__).resolve().parents[2] / "scripts" / "cli_docs.py"
    result = subprocess.run([sys.executable, str(script), "--check"], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
