"""The exception hierarchy: every expected failure is a `MlflowGitlabError`."""

from __future__ import annotations


class MlflowGitlabError(Exception):
    """Raised when an expected failure stops a command; the CLI prints it as one line.

    Attributes:
        hint: an optional second line telling the user what to do.
        exit_code: the process exit code the CLI uses for this failure.
    """

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint


class ConfigError(MlflowGitlabError):
    """Raised when settings are missing or invalid (a variable or flag to fix)."""

    exit_code = 2


class SandboxError(MlflowGitlabError):
    """Raised when the local sandbox cannot start, stop or be reached."""


class TrackingError(MlflowGitlabError):
    """Raised when a call to the MLflow tracking server fails."""


class CommandNotFound(MlflowGitlabError):
    """Raised when the command to wrap does not exist or cannot be executed."""

    exit_code = 127  # what a shell answers for a missing command
