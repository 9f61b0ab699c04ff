"""Token variables as they are read: registered with the redactor, refused when they could
not go into an HTTP header as they are."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import unquote

from mlflow_gitlab import redaction
from mlflow_gitlab.errors import ConfigError


def read_token(env: Mapping[str, str], variable: str) -> str | None:
    """The token in `variable` (None when unset or empty), registered with the redactor.

    Raises:
        ConfigError: the value has whitespace around it (a newline from `echo $TOKEN > file`)
            or whitespace, control or non-ASCII characters inside: it cannot go into an HTTP
            header as it is. The message names the variable, never the value.
    """
    value = env.get(variable)
    if not value:
        return None
    redaction.register(value)
    if value != value.strip():
        raise ConfigError(
            f"{variable} has whitespace around the token (a trailing newline?)",
            hint=f"set {variable} to the token alone, e.g. {variable}=$(tr -d '[:space:]' "
                 "< token-file)")
    if not all("!" <= char <= "~" for char in value):
        raise ConfigError(
            f"{variable} holds whitespace, control or non-ASCII characters inside the token",
            hint=f"copy the token into {variable} again: an access token is one word of "
                 "visible ASCII characters")
    return value


def register_url_password(url: str | None) -> None:
    """A password in a URL's userinfo is a secret too, as written and decoded."""
    password = redaction.url_password(url or "")
    if password:
        redaction.register(password, unquote(password))
