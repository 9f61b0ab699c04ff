"""Parse repeatable `--option KEY=VALUE` values, shared by the commands that take them."""

from __future__ import annotations

from mlflow_gitlab.errors import ConfigError


def key_values(option: str, values: tuple[str, ...]) -> dict[str, str]:
    """`("a=1", "b=x=y")` -> `{"a": "1", "b": "x=y"}`.

    Raises:
        ConfigError: an item has no `=` or an empty key (named with its `option`).
    """
    pairs = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"{option} {item!r} is not KEY=VALUE")
        pairs[key] = value
    return pairs
