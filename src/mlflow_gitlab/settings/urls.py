"""Which URLs can be used: checked where a setting is read, so a bad one is one line, not a
traceback from deep inside an HTTP client.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from mlflow_gitlab.errors import ConfigError
from mlflow_gitlab.redaction import strip_url_credentials

# A scheme of two letters or more: `C:\mlruns` is a Windows path, not a URL.
_SCHEME = re.compile(r"\A[A-Za-z][A-Za-z0-9+.-]+:")
_MLFLOW_NAMES = ("databricks", "databricks-uc", "uc")  # tracking URIs without a scheme
_HOST = re.compile(r"[\w.-]+|[0-9A-Fa-f:.]+(%[\w.-]+)?")  # a name, IPv4, or IPv6 (a zone too)


def check_url(url: str, what: str, *, source: str | None = None, http_only: bool = True,
              hint: str | None = None) -> None:
    """Refuse a URL that no HTTP client could use, before anything is sent.

    Args:
        url: the value as given.
        what: what it is, for the message (`GitLab URL`, `tracking URI`).
        source: the variable it came from, when known, for the message.
        http_only: when False, other schemes (`file:`, `sqlite:`, ...) pass unchecked; a
            value without a scheme is refused all the same.
        hint: the second line of the error.

    Raises:
        ConfigError: one line naming `what` (and `source`), never the URL's credentials.
    """
    shown = f"{what} {_shown(url)!r}" + (f" from {source}" if source else "")
    if any(c.isspace() or not c.isprintable() for c in url):
        raise ConfigError(f"{shown} has a space or a control character in it", hint=hint)
    try:
        parts = urlsplit(url)
        port = parts.port  # ValueError when it is not a number from 0 to 65535
    except ValueError as exc:
        raise ConfigError(f"{shown} is not a valid URL ({str(exc)[:80]})", hint=hint) from None
    if parts.scheme.lower() not in ("http", "https"):
        if http_only:
            raise ConfigError(f"{shown} is not http(s)", hint=hint)
        if not _SCHEME.match(url) and url not in _MLFLOW_NAMES:
            raise ConfigError(f"{shown} is not a URL", hint=hint)
        scheme = parts.scheme.lower().partition("+")[0]  # postgresql+psycopg2: a driver
        if _SCHEME.match(url) and scheme not in _mlflow_schemes():
            raise ConfigError(f"{shown} has a scheme MLflow does not know ({parts.scheme}:)",
                              hint=hint)
        return
    host = parts.hostname
    if not host or not _HOST.fullmatch(host):
        raise ConfigError(f"{shown} has no valid host name", hint=hint)
    if port == 0:
        raise ConfigError(f"{shown} has port 0", hint=hint)


def _mlflow_schemes() -> set[str]:
    """The tracking URI schemes MLflow takes: its own and those of installed plugins."""
    from importlib.metadata import entry_points

    plugins = {ep.name for ep in entry_points(group="mlflow.tracking_store")}
    return plugins | {"file", "databricks", "databricks-uc", "uc", "postgresql", "mysql",
                      "sqlite", "mssql"}


def _shown(url: str) -> str:
    """`url` without the credentials of its user-info part, even when it does not parse."""
    try:
        return strip_url_credentials(url)
    except ValueError:
        scheme, sep, rest = url.partition("://")
        if not sep:
            return url
        authority, slash, path = rest.partition("/")
        return f"{scheme}://{authority.rpartition('@')[2]}{slash}{path}"
