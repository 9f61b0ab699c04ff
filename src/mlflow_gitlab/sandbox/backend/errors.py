"""What GitLab's rules refuse, as exceptions free of HTTP; routes render each as GitLab does."""

from __future__ import annotations


class BackendError(Exception):
    """A refusal by one of GitLab's rules; `message` is GitLab's own text, when it has one."""

    def __init__(self, message: str | list[str] | None = None) -> None:
        super().__init__(message)
        self.message = message


class NotFound(BackendError):
    """The record named does not exist (MLflow: RESOURCE_DOES_NOT_EXIST)."""


class AlreadyExists(BackendError):
    """A create GitLab reports as taken (MLflow: RESOURCE_ALREADY_EXISTS)."""


class Invalid(BackendError):
    """A record failing a model validation or a database constraint; `message` says which."""


class Refused(BackendError):
    """A rule refuses the change (`Cannot delete a candidate associated to a model version`)."""


class Broken(BackendError):
    """GitLab fails with an unrescued exception here, a 500 (a run tagged with no CI job)."""
