"""The catalogue of environment variables holds every setting the code reads, documented,
and is the one place that names them: every read goes through its `Variable`."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from mlflow_gitlab import env
from mlflow_gitlab.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ROOT / "src" / "mlflow_gitlab"
OWN_NAME = re.compile(r"\"(MLFLOW_GITLAB_[A-Z0-9_]+)\"")
CHILD_ONLY = {env.JOURNAL_RELAY, env.JOURNAL_DIR}


def _named_in_code() -> set[str]:
    names = set()
    for path in PRODUCT.rglob("*.py"):
        if "sandbox" not in path.relative_to(PRODUCT).parts:
            names.update(OWN_NAME.findall(path.read_text()))
    return names


def test_every_own_variable_the_code_names_is_in_the_catalogue():
    catalogued = {variable.name for variable in env.CATALOGUE}
    # click's options read MLFLOW_GITLAB_<COMMAND>_<OPTION>; those are documented per option
    options = {name for name in _named_in_code() if name == "MLFLOW_GITLAB_CONTEXT_FORMAT"}
    assert _named_in_code() - catalogued - CHILD_ONLY - options == set()


@pytest.mark.parametrize("variable", env.CATALOGUE, ids=lambda v: v.name)
def test_every_catalogued_variable_is_documented(variable):
    assert f"`{variable.name}`" in (ROOT / "docs" / "configuration.md").read_text()


def test_a_variable_reads_its_default_when_unset_or_empty():
    assert env.RETRY_ATTEMPTS.read({}) == 6
    assert env.RETRY_ATTEMPTS.read({"MLFLOW_GITLAB_RETRY_ATTEMPTS": ""}) == 6
    assert env.RETRY_ATTEMPTS.read({}, 30) == 30
    assert env.RETRY_ATTEMPTS.read({"MLFLOW_GITLAB_RETRY_ATTEMPTS": "9"}, 30) == 9
    assert env.MAX_FILE_SIZE.read({"MLFLOW_GITLAB_MAX_FILE_SIZE": "64 MiB"}) == 64 * 1024**2
    assert env.MATRIX_KEYS.read({"MLFLOW_GITLAB_MATRIX_KEYS": "lr, depth,,"}) == ("lr", "depth")


@pytest.mark.parametrize("value", ["0", "-1", "two", "1.5"])
def test_a_malformed_number_names_the_variable(value):
    with pytest.raises(ConfigError, match=f"RETRY_ATTEMPTS={value!r} is not a positive"):
        env.RETRY_ATTEMPTS.read({"MLFLOW_GITLAB_RETRY_ATTEMPTS": value})


@pytest.mark.parametrize("value", ["0", "33", "four"])
def test_files_in_flight_are_bounded_as_the_flag_is(value):
    with pytest.raises(ConfigError, match=f"PARALLEL={value!r} is not a whole number from 1 "):
        env.PARALLEL.read({"MLFLOW_GITLAB_PARALLEL": value})
    assert env.PARALLEL.read({"MLFLOW_GITLAB_PARALLEL": "32"}) == 32


@pytest.mark.parametrize(("value", "meaning"), [("true", True), ("ON", True), ("1", True),
                                                ("false", False), ("no", False), ("0", False)])
def test_a_flag_reads_as_click_reads_one(value, meaning):
    assert env.FOLLOW_SYMLINKS.read({"MLFLOW_GITLAB_FOLLOW_SYMLINKS": value}) is meaning


def test_a_flag_that_is_neither_names_the_variable():
    with pytest.raises(ConfigError, match="FOLLOW_SYMLINKS='maybe' is neither true nor false"):
        env.FOLLOW_SYMLINKS.read({"MLFLOW_GITLAB_FOLLOW_SYMLINKS": "maybe"})


def test_only_the_catalogue_spells_a_catalogued_name():
    """Code reads a variable through its `Variable` (or names it by `.name`), so its default
    and parser cannot drift apart between two readers. Prose may mention the name."""
    catalogued = {variable.name for variable in env.CATALOGUE} | CHILD_ONLY
    spelled = []
    for path in sorted(PRODUCT.rglob("*.py")):
        where = path.relative_to(PRODUCT)
        if where.name == "env.py" or "sandbox" in where.parts:  # the sandbox plays GitLab
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and node.value in catalogued:
                spelled.append(f"{where}:{node.lineno} {node.value}")
    assert spelled == []


def _options_of(command, ctx):
    import click

    yield from (param for param in command.params if isinstance(param, click.Option))
    if isinstance(command, click.Group):
        for name in command.list_commands(ctx):
            yield from _options_of(command.get_command(ctx, name), ctx)


def test_options_read_only_variables_whose_value_is_the_text():
    """click parses what it reads itself: only variables taken as they are may be an
    option's `envvar`; the others are read by `settings`, through the catalogue's parser."""
    import click

    from mlflow_gitlab.cli.main import cli

    by_name = {variable.name: variable for variable in env.CATALOGUE}
    read = {(option.name, option.envvar) for option in _options_of(cli, click.Context(cli))
            if option.envvar in by_name}
    assert read, "no option reads a catalogued variable: the test looks in the wrong place"
    assert {envvar for _, envvar in read if by_name[envvar].parse is not env.text} == set()


def test_the_reference_table_lists_the_catalogue_with_its_defaults():
    text = (ROOT / "docs" / "configuration.md").read_text()
    table = text.split("## Every variable", 1)[1]
    rows = re.findall(r"^\| `([A-Z0-9_]+)` \| [^|]+ \| ([^|]+) \|$", table, re.MULTILINE)
    assert [name for name, _ in rows] == [variable.name for variable in env.CATALOGUE]
    for (name, shown), variable in zip(rows, env.CATALOGUE, strict=True):
        if variable.default in (None, ()):
            assert shown.strip() == "none", name
        else:
            assert variable.read({name: shown.strip().strip("`")}) == variable.default, name
