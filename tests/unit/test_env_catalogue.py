"""The catalogue of environment variables holds every setting the code reads, documented."""

from __future__ import annotations

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
    with pytest.raises(ConfigError, match=f"MLFLOW_GITLAB_PARALLEL={value!r} is not a positive"):
        env.PARALLEL.read({"MLFLOW_GITLAB_PARALLEL": value})


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
