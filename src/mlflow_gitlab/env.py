"""The environment variables that configure the helper: each one's name, default and parser.

This is the catalogue of the settings a user sets; GitLab's predefined `CI_*` variables are
read by GitLab's names (in `context/` for the job's context, in `settings/` for where
GitLab is). Every entry is documented in `docs/configuration.md`, and only this module
spells an entry's name: code reads one through `Variable.read`, so a malformed value is one
error naming the variable, and a click option reads one (`envvar=X.name`) only when it is
taken as it is (`text`). Tests hold all three.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

from mlflow_gitlab.errors import ConfigError

T = TypeVar("T")

_SIZE = re.compile(r"\A\s*(?P<n>\d+)\s*(?P<unit>[KMGT]i?B?|B)?\s*\Z", re.IGNORECASE)
_UNITS = {"": 1, "B": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}


def text(value: str, name: str) -> str:
    """Any non-empty value, as it is."""
    return value


def positive_int(value: str, name: str) -> int:
    """A whole number of at least 1.

    Raises:
        ConfigError: anything else; the message names the variable.
    """
    if not value.isdigit() or int(value) < 1:
        raise ConfigError(f"{name}={value!r} is not a positive whole number")
    return int(value)


def whole_number(low: int, high: int) -> Callable[[str, str], int]:
    """A parser of whole numbers from `low` to `high`; anything else raises ConfigError
    naming the variable."""
    def parse(value: str, name: str) -> int:
        if not value.isdigit() or not low <= int(value) <= high:
            raise ConfigError(f"{name}={value!r} is not a whole number from {low} to {high}")
        return int(value)
    return parse


_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


def flag(value: str, name: str) -> bool:
    """`true`/`false` (also 1/0, yes/no, on/off, in any case), as click reads a flag.

    Raises:
        ConfigError: anything else; the message names the variable.
    """
    word = value.strip().lower()
    if word not in _TRUE + _FALSE:
        raise ConfigError(f"{name}={value!r} is neither true nor false")
    return word in _TRUE


def size(value: str, name: str) -> int:
    """`5368709120`, `5GiB`, `512M`, `64 MiB` -> bytes (binary units).

    Raises:
        ConfigError: the value is not a size; the message names the variable.
    """
    match = _SIZE.match(str(value))
    if match is None:
        raise ConfigError(f"{name}={value!r} is not a size",
                          hint="use bytes or a binary unit: 5368709120, 5GiB, 512MiB")
    unit = (match["unit"] or "").upper().removesuffix("B").removesuffix("I")
    return int(match["n"]) * _UNITS[unit]


def names(value: str, name: str) -> tuple[str, ...]:
    """Comma-separated names, blanks dropped."""
    return tuple(part.strip() for part in value.split(",") if part.strip())


@dataclass(frozen=True)
class Variable(Generic[T]):
    """One environment variable: `read` gives its parsed value, or `default` when unset
    or empty."""

    name: str
    parse: Callable[[str, str], T]
    default: T | None
    meaning: str

    def read(self, env: Mapping[str, str], default: T | None = None) -> T | None:
        """The parsed value of this variable in `env`, else `default`, else the catalogue's.

        Raises:
            ConfigError: the value is malformed; the message names the variable.
        """
        raw = env.get(self.name)
        if raw is None or raw == "":
            return self.default if default is None else default
        return self.parse(raw, self.name)


def _var(name: str, parse: Callable[[str, str], T], default: T | None, meaning: str
         ) -> Variable[T]:
    return Variable(name, parse, default, meaning)


# Where to talk to (settings/)
TRACKING_URI = _var("MLFLOW_TRACKING_URI", text, None, "the tracking server")
TRACKING_TOKEN = _var("MLFLOW_TRACKING_TOKEN", text, None, "the tracking server's token")
REGISTRY_URI = _var("MLFLOW_REGISTRY_URI", text, None, "the model registry, if elsewhere")
EXPERIMENT_NAME = _var("MLFLOW_EXPERIMENT_NAME", text, None, "the experiment of `run`")
GITLAB_URL = _var("MLFLOW_GITLAB_URL", text, None, "where GitLab's API is")
PROJECT = _var("MLFLOW_GITLAB_PROJECT", text, None, "the project's id or full path")
TOKEN = _var("MLFLOW_GITLAB_TOKEN", text, None, "the token for GitLab's REST API")

# How patiently (http/, relay/)
RETRY_ATTEMPTS = _var("MLFLOW_GITLAB_RETRY_ATTEMPTS", positive_int, 6,
                      "attempts per call, the first included")
RETRY_SECONDS = _var("MLFLOW_GITLAB_RETRY_SECONDS", positive_int, 300,
                     "time budget per call, across its attempts")
REQUEST_SECONDS = _var("MLFLOW_GITLAB_REQUEST_SECONDS", positive_int, 120,
                       "the longest one request may take, answer included")
HTTP_REQUEST_TIMEOUT = _var("MLFLOW_HTTP_REQUEST_TIMEOUT", positive_int, None,
                            "MLflow's client timeout (the relay answers within half of it)")

# Files (packages/, relay/)
MOST_IN_FLIGHT = 32  # --parallel's bound too
PARALLEL = _var("MLFLOW_GITLAB_PARALLEL", whole_number(1, MOST_IN_FLIGHT), 4,
                "package files in flight at once")
MAX_FILE_SIZE = _var("MLFLOW_GITLAB_MAX_FILE_SIZE", size, 5 * 1024**3,
                     "the largest package file; larger files are split")
FOLLOW_SYMLINKS = _var("MLFLOW_GITLAB_FOLLOW_SYMLINKS", flag, False,
                       "`true`: upload what symlinks point to, even outside the folder")
SPOOL = _var("MLFLOW_GITLAB_SPOOL", text, ".mlflow-gitlab/spool",
             "where the relay keeps points it could not send")

# The job's context (context/)
MATRIX_KEYS = _var("MLFLOW_GITLAB_MATRIX_KEYS", names, (),
                   "the `parallel:matrix` variables, in definition order")

CATALOGUE: tuple[Variable, ...] = (
    TRACKING_URI, TRACKING_TOKEN, REGISTRY_URI, EXPERIMENT_NAME, GITLAB_URL, PROJECT, TOKEN,
    RETRY_ATTEMPTS, RETRY_SECONDS, REQUEST_SECONDS, HTTP_REQUEST_TIMEOUT,
    PARALLEL, MAX_FILE_SIZE, FOLLOW_SYMLINKS, SPOOL, MATRIX_KEYS,
)

# Set by `run` for its child only, never by a user: the relay and the journal to write to.
JOURNAL_RELAY = "MLFLOW_GITLAB_JOURNAL_RELAY"
JOURNAL_DIR = "MLFLOW_GITLAB_JOURNAL_DIR"
