"""The CLI's one way out: results, errors, hints and notes, every line through the redactor.

Commands print only through these functions; the library never prints (it logs, and
`log.py` masks every record). `guard_streams` also routes whatever else reaches
`sys.stdout`/`sys.stderr` (a library's own handler, a traceback with -vv) through it.
"""

from __future__ import annotations

import sys
import threading
from typing import IO

import click

from mlflow_gitlab import redaction


def result(text: str, *, nl: bool = True) -> None:
    """Machine output on stdout (a value, JSON, YAML)."""
    click.echo(redaction.redact(text), nl=nl)


def note(text: str) -> None:
    """A human line on stderr."""
    click.echo(redaction.redact(text), err=True)


def error(message: str, hint: str | None = None) -> None:
    """The `error:` line, and the `hint:` line when there is one (each kept to one line)."""
    click.echo(f"error: {_one_line(message)}", err=True)
    if hint:
        click.echo(f"hint: {_one_line(hint)}", err=True)


def unmasked(text: str) -> None:
    """Output meant to hold secrets, on stdout as is: the sandbox's ready JSON, whose tokens
    are the point (not ones the helper read)."""
    stream = sys.stdout
    raw = stream._stream if isinstance(stream, RedactingStream) else stream
    raw.write(text + "\n")
    raw.flush()


def _one_line(text: str) -> str:
    return " ".join(redaction.redact(str(text)).split())


class RedactingStream:
    """A text stream that writes whole lines (or redrawn `\\r` lines) through the redactor;
    a partial line waits for its end, or for `flush`."""

    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream
        self._pending = ""
        self._lock = threading.Lock()

    def write(self, text: str) -> int:
        with self._lock:
            self._pending += text
            cut = max(self._pending.rfind("\n"), self._pending.rfind("\r")) + 1
            if cut:
                self._stream.write(redaction.redact(self._pending[:cut]))
                self._pending = self._pending[cut:]
        return len(text)

    def flush(self) -> None:
        with self._lock:
            if self._pending:
                self._stream.write(redaction.redact(self._pending))
                self._pending = ""
            self._stream.flush()

    def __getattr__(self, name: str):
        if name == "buffer":  # bytes written there would pass unmasked: there is none
            raise AttributeError(name)
        return getattr(self._stream, name)


def guard_streams() -> None:
    """Put `sys.stdout` and `sys.stderr` behind the redactor for the rest of the process."""
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        if stream is not None and not isinstance(stream, RedactingStream):
            setattr(sys, name, RedactingStream(stream))
