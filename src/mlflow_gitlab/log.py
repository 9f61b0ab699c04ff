"""Logging for the CLI: human lines on stderr, every record (and warning) through the redactor."""

from __future__ import annotations

import logging
import traceback

from mlflow_gitlab import redaction


class MaskingFilter(logging.Filter):
    """Masks secrets in every record, its traceback included, before any handler formats it.

    Without a `redactor`, the process-wide one: every token read so far, whenever it was read.
    """

    def __init__(self, redactor: redaction.Redactor | None = None) -> None:
        super().__init__()
        self.redactor = redactor

    def redact(self, text: str) -> str:
        return self.redactor.redact(text) if self.redactor else redaction.redact(text)

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self.redact(record.getMessage())
        record.args = ()
        if record.exc_info and not record.exc_text:
            record.exc_text = "".join(traceback.format_exception(*record.exc_info)).rstrip()
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


def configure_logging(verbose: int) -> None:
    """`mlflow-gitlab: ...` lines on stderr; -v adds debug lines of ours, -vv of libraries.

    Python warnings and other libraries' records (warnings and errors; all with -vv) go
    through the same filter, so no line of the process escapes the redactor.
    """
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("mlflow-gitlab: %(message)s"))
    handler.addFilter(MaskingFilter())
    ours = logging.getLogger("mlflow_gitlab")
    ours.handlers[:] = [handler]
    ours.propagate = False
    ours.setLevel(logging.DEBUG if verbose else logging.INFO)
    logging.captureWarnings(False)  # anew: someone may have put `showwarning` back since
    logging.captureWarnings(True)
    warnings_log = logging.getLogger("py.warnings")
    warnings_log.handlers[:] = [handler]
    warnings_log.propagate = False
    others = handler
    if verbose < 2:  # as Python's last-resort handler shows them, but masked
        others = logging.StreamHandler()
        others.setLevel(logging.WARNING)
        others.addFilter(MaskingFilter())
    root = logging.getLogger()
    root.handlers[:] = [others]
    root.setLevel(logging.DEBUG if verbose >= 2 else logging.WARNING)
