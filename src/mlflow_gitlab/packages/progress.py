"""Progress of a transfer: a one-line bar on a terminal, plain log lines anywhere else (CI).

Transfers call a `Progress` from several threads; byte counts may go back when an attempt
is retried from its first byte.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import IO

from mlflow_gitlab.output.sizes import human_size

log = logging.getLogger("mlflow_gitlab.packages")

_BAR_WIDTH = 24
_REDRAW_SECONDS = 0.2
_LOG_SECONDS = 5.0  # a CI log shows a long transfer moving, without flooding it
_PAST = {"uploading": "uploaded", "downloading": "downloaded"}


class Progress:
    """Counts files and bytes; subclasses decide what to show. This one shows nothing."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.verb, self.files, self.total_files, self.done, self.total = "", 0, 0, 0, 0
        self.started = time.monotonic()

    def start(self, verb: str, total_files: int, total_bytes: int) -> None:
        """A transfer of `total_files` files, `total_bytes` in all, begins (`verb`: uploading)."""
        with self._lock:
            self.verb, self.total_files, self.total = verb, total_files, total_bytes
            self.files, self.done, self.started = 0, 0, time.monotonic()

    def advance(self, nbytes: int) -> None:
        """`nbytes` more moved (negative: an attempt restarted from its first byte)."""
        with self._lock:
            self.done += nbytes
            self._show()

    def file_done(self, path: str, size: int, *, skipped: bool) -> None:
        """`path` is complete; `skipped` when it was already there with the same SHA-256."""
        with self._lock:
            self.files += 1
            self._file_done(path, size, skipped)

    def finish(self) -> None:
        """The transfer ended (successfully or not)."""

    @property
    def rate(self) -> float:
        return self.done / max(time.monotonic() - self.started, 1e-6)

    def _show(self) -> None:
        pass

    def _file_done(self, path: str, size: int, skipped: bool) -> None:
        pass


class LogProgress(Progress):
    """A log line per file, and while a transfer lasts one every few seconds, as CI job logs
    want (no carriage returns): a single large file shows it is moving too."""

    def __init__(self) -> None:
        super().__init__()
        self._logged = time.monotonic()

    def start(self, verb: str, total_files: int, total_bytes: int) -> None:
        super().start(verb, total_files, total_bytes)
        self._logged = self.started

    def _show(self) -> None:
        now = time.monotonic()
        if now - self._logged >= _LOG_SECONDS and self.total and self.done < self.total:
            self._logged = now
            log.info("%s: %.0f%% (%s of %s, %s/s)", self.verb, 100 * self.done / self.total,
                     human_size(self.done), human_size(self.total), human_size(self.rate))

    def _file_done(self, path: str, size: int, skipped: bool) -> None:
        done = "skipped" if skipped else _PAST.get(self.verb, self.verb)
        why = "already there" if skipped else f"{human_size(self.rate)}/s overall"
        log.info("%s %d/%d %s (%s, %s)", done, self.files, self.total_files, path,
                 human_size(size), why)


class BarProgress(Progress):
    """One line redrawn in place on a terminal: bar, bytes, files and speed."""

    def __init__(self, stream: IO[str]) -> None:
        super().__init__()
        self.stream = stream
        self._drawn = 0.0

    def _show(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._drawn < _REDRAW_SECONDS:
            return
        self._drawn = now
        fraction = self.done / self.total if self.total else 1.0
        filled = int(_BAR_WIDTH * min(max(fraction, 0.0), 1.0))
        self.stream.write(
            f"\r{self.verb} [{'#' * filled}{'.' * (_BAR_WIDTH - filled)}] {fraction:4.0%} "
            f"{human_size(self.done)}/{human_size(self.total)} {self.files}/{self.total_files} "
            f"files {human_size(self.rate)}/s\x1b[K")
        self.stream.flush()

    def _file_done(self, path: str, size: int, skipped: bool) -> None:
        self._show(force=self.files == self.total_files)

    def finish(self) -> None:
        with self._lock:
            if self._drawn:
                self.stream.write("\n")
                self.stream.flush()


def progress_for(stream: IO[str] | None) -> Progress:
    """A bar when `stream` is a terminal, log lines otherwise (None: nothing)."""
    if stream is None:
        return Progress()
    isatty = getattr(stream, "isatty", None)
    return BarProgress(stream) if isatty is not None and isatty() else LogProgress()
