"""The docs stay true: every tag and every command is documented."""

from __future__ import annotations

from pathlib import Path

import click
import pytest

from mlflow_gitlab import tags
from mlflow_gitlab.cli.main import cli
from mlflow_gitlab.packages import runs as package_runs
from mlflow_gitlab.release import record as release_record

DOCS = Path(__file__).resolve().parents[2] / "docs"


def _tag_names(module) -> list[str]:
    return [v for k, v in vars(module).items() if k.isupper() and isinstance(v, str)
            and v.startswith(("gitlab.", "mlflow.", "mlflow-gitlab."))]


@pytest.mark.parametrize(("module", "page"), [
    (tags, "tags.md"),  # run tags
    (package_runs, "tags.md"),  # run tags pointing at the run's package
    (release_record, "release.md"),  # model-version tags
])
def test_every_tag_is_documented(module, page):
    text = (DOCS / page).read_text()
    names = _tag_names(module)
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


ROOT = DOCS.parent
USER_PAGES = sorted([*DOCS.glob("*.md"), ROOT / "README.md", ROOT / "ci-components" / "README.md",
                     *ROOT.glob("examples/*/README.md")])


@pytest.mark.parametrize("page", USER_PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_page_cites_files_users_do_not_have(page):
    """Facts about GitLab are stated with GitLab's own source files, never with the
    project's internal notes (`../shared/...`, "reference §7")."""
    text = page.read_text(encoding="utf-8")
    assert "../shared" not in text and "shared/reference" not in text
    assert "§" not in text


@pytest.mark.parametrize("page", sorted(p.name for p in DOCS.glob("*.md")))
def test_every_page_is_linked_from_the_index(page):
    assert page == "index.md" or f"]({page})" in (DOCS / "index.md").read_text()


def test_relative_links_between_pages_resolve():
    import re

    broken = []
    for page in USER_PAGES:
        for target in re.findall(r"\]\(([^)#\s]+\.md)(?:#[^)]*)?\)", page.read_text()):
            if "://" not in target and not (page.parent / target).exists():
                broken.append(f"{page.relative_to(ROOT)} -> {target}")
    assert broken == []
