"""Generate docs/cli.md from the commands' own help, so the reference cannot drift.

    python scripts/cli_docs.py          # rewrite docs/cli.md
    python scripts/cli_docs.py --check  # exit 1 if docs/cli.md is stale (used by the tests)
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from mlflow_gitlab.cli.main import cli

TARGET = Path(__file__).resolve().parent.parent / "docs" / "cli.md"
HEADER = """# CLI reference

Generated from the commands' help by `python scripts/cli_docs.py`; do not edit by hand.

Exit codes: 0 success; 1 an operation failed (`error: ...` on stderr, with a `hint:` line
when there is something to do); 2 a usage or configuration error; 3 `release --strict` found
nothing to release; 4 `release` refused a candidate at the regression gate; 127 the command
given to `run` does not exist; `run` otherwise exits with its command's code (128 + N when a
signal N killed it); 130 interrupted. An option can also be set through the environment as
`MLFLOW_GITLAB_<COMMAND>_<OPTION>` (for example `MLFLOW_GITLAB_RUN_RUN_NAME`), unless its help
names another variable (such as `MLFLOW_TRACKING_URI`).
"""


def walk(group: click.Group, ctx: click.Context, prefix: list[str]):
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        path = [*prefix, name]
        sub = click.Context(command, info_name=name, parent=ctx, terminal_width=100)
        if isinstance(command, click.Group):
            yield from walk(command, sub, path)
        else:
            yield path, command, sub


def render() -> str:
    root = click.Context(cli, info_name="mlflow-gitlab", terminal_width=100,
                         help_option_names=["-h", "--help"])
    parts = [HEADER]
    for path, command, ctx in walk(cli, root, []):
        title = f"## `mlflow-gitlab {' '.join(path)}`"
        parts.append(f"{title}\n\n```text\n{command.get_help(ctx)}\n```\n")
    return "\n".join(parts)


def main() -> None:
    text = render()
    if "--check" in sys.argv:
        if not TARGET.exists() or TARGET.read_text() != text:
            sys.exit("docs/cli.md is stale: run `python scripts/cli_docs.py`")
        return
    TARGET.write_text(text)


if __name__ == "__main__":
    main()
