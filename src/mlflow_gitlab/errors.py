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


class WriteRefused(ConfigError):
    """Raised when the tracking server refuses a call as a write the token may not make (403)."""


class SandboxError(MlflowGitlabError):
    """Raised when the local sandbox cannot start, stop or be reached."""


class TrackingError(MlflowGitlabError):
    """Raised when a call to the MLflow tracking server fails."""


class TrackingRefused(TrackingError):
    """Raised when the tracking server answers a call with an MLflow error.

    Attributes:
        status: the HTTP status of the answer.
        error_code: MLflow's `error_code` (`RESOURCE_DOES_NOT_EXIST`, ...), "" when none.
    """

    def __init__(self, message: str, *, status: int, error_code: str = "",
                 hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.status, self.error_code = status, error_code


class CommandNotFound(MlflowGitlabError):
    """Raised when the command to wrap does not exist or cannot be executed."""

    exit_code = 127  # what a shell answers for a missing command


class InvalidVersion(ConfigError):
    """Raised when a model version given or configured is not a semantic version."""


class ReleaseError(MlflowGitlabError):
    """Raised when a model version cannot be released (candidate, files or registry)."""


class NothingToRelease(MlflowGitlabError):
    """Raised when a release finds nothing to release; the CLI exits 0 unless `--strict`."""

    exit_code = 3


class RegressionGateFailed(MlflowGitlabError):
    """Raised when the candidate's metric is worse than the latest version's beyond the gate."""

    exit_code = 4


class GitLabAPIError(MlflowGitlabError):
    """Raised when a call to GitLab's REST API fails, after retries where they apply."""


class UnexpectedAnswer(GitLabAPIError):
    """Raised when a server answers what GitLab would not send: HTML where JSON is expected,
    JSON of the wrong shape, an empty or an over-large body."""


class RedirectRefused(GitLabAPIError):
    """Raised when an upload is answered by a redirect: a body is never sent on again."""


class InvalidPackageName(ConfigError):
    """Raised when a package name, version or file name breaks GitLab's rules."""


class PackageUploadError(MlflowGitlabError):
    """Raised when files cannot be uploaded to a generic package."""


class DuplicateRefused(PackageUploadError):
    """Raised when GitLab refuses a package file whose name the package already holds (its
    group does not allow duplicates); `sha256` is what was sent, when it was sent whole."""

    def __init__(self, message: str, sha256: str | None = None) -> None:
        super().__init__(message)
        self.sha256 = sha256


class PackageDownloadError(MlflowGitlabError):
    """Raised when a package cannot be downloaded or its files fail verification."""


class VersionTaken(ReleaseError):
    """Raised when the model version to create already exists (a concurrent release made it)."""


class SearchSpaceError(ConfigError):
    """Raised when a hyperparameter search space is malformed or cannot be fanned out."""


class MatrixTooLarge(SearchSpaceError):
    """Raised when a fan-out would exceed GitLab's 200 jobs per `parallel:matrix`."""


class ScaffoldError(ConfigError):
    """Raised when `init` cannot write a project's CI configuration (bad choice, file exists)."""


class ReportError(MlflowGitlabError):
    """Raised when a merge-request report cannot be gathered or published."""


class ReportTemplateError(ConfigError):
    """Raised when a report template cannot be found, parsed or rendered."""


class NotesUnavailable(ReportError):
    """Raised when GitLab refuses the token to write merge-request notes (401/403)."""


class SpoolNotEmpty(MlflowGitlabError):
    """Raised when `sync` could not send every metric point kept in the relay's spool."""
