"""Logging for the CLI: human lines on stderr, every line passed through the redactor."""

from __future__ import annotations

import logging

from mlflow_gitlab.redaction import Redactor


class MaskingFilter(logging.Filter):
    """Masks secrets in every record before any handler formats it."""

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self.redactor.redact(record.getMessage())
        record.args = ()
        return True


def configure_logging(verbose: int) -> None:
    """`mlflow-gitlab: ...` lines on stderr; -v adds debug lines of ours, -vv of libraries."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("mlflow-gitlab: %(message)s"))
    handler.addFilter(MaskingFilter(Redactor.from_env()))
    ours = logging.getLogger("mlflow_gitlab")
    ours.handlers[:] = [handler]
    ours.propagate = False
    ours.setLevel(logging.DEBUG if verbose else logging.INFO)
    if verbose >= 2:
        logging.basicConfig(level=logging.DEBUG, handlers=[handler])
