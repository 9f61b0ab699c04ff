"""The relay's side of a metric journal: a private folder whose points feed the queue.

Segments are deleted only once every point read from them is settled (sent, or spooled),
and the folder only when the helper is done with the run (`discard`). Points the relay
acknowledges over HTTP are appended to `<folder>/http/` too (`record`), so a helper killed
at any moment leaves every acknowledged point on disk for `mlflow-gitlab sync`.
"""

from __future__ import annotations

import logging
import tempfile
import threading
from collections import defaultdict
from pathlib import Path

from mlflow_gitlab.relay.journal import JournalReader, JournalWriter, encode
from mlflow_gitlab.relay.journal_state import new_journal, remove_journal
from mlflow_gitlab.relay.points import Point
from mlflow_gitlab.relay.queue import MetricQueue

log = logging.getLogger(__name__)
POLL = 0.1  # seconds between reads
HTTP = "http"  # the sub-folder of points that came over HTTP (not read by the relay)


class JournalIntake:
    """Reads the journal into `queue` every `POLL` seconds and whenever asked (`read`);
    `close()` reads it to the end, `discard()` deletes it.

    Args:
        queue: where the points go.
        spool: the folder the journal is made in (`journal_state`); without one, or when it
            cannot be written, a private folder in the system's temporary folder, which
            `sync` does not find after a kill.
        run_id: the run the helper made, named in the journal's record.
    """

    def __init__(self, queue: MetricQueue, spool: Path | None = None,
                 run_id: str | None = None) -> None:
        self.queue = queue
        self._lock_fd: int | None = None
        self._created: list[Path] = []
        self.directory = self._make(spool, run_id)
        self._waiting: list[tuple[Path, int | None]] = []  # read segments, and their mark
        self._reader = JournalReader(self.directory, on_done=lambda p: self._waiting.append(
            (p, None)))
        self._http: JournalWriter | None = None
        if self._lock_fd is not None:  # a journal `sync` finds: worth a copy of the rest
            (self.directory / HTTP).mkdir(mode=0o700)
            self._http = JournalWriter(self.directory / HTTP)
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="mlflow-gitlab-relay-journal",
                                        daemon=True)

    def _make(self, spool: Path | None, run_id: str | None) -> Path:
        if spool is not None:
            try:
                folder, self._lock_fd, self._created = new_journal(spool, run_id)
                return folder
            except OSError as exc:
                log.warning("relay: cannot keep the metric journal in %s (%s): using a "
                            "temporary folder, which `mlflow-gitlab sync` cannot find if "
                            "this process is killed", spool, exc)
        return Path(tempfile.mkdtemp(prefix="mlflow-gitlab-journal-"))

    def start(self) -> None:
        self._thread.start()

    def read(self) -> int:
        """Queue what was appended since the last read; how many points. Blocks while the
        queue is full."""
        count = 0
        with self._lock:
            while found := self._reader.read():
                runs: defaultdict[str, list[Point]] = defaultdict(list)
                for run_id, point in found:
                    runs[run_id].append(point)
                for run_id, points in runs.items():
                    self.queue.put(run_id, points)
                count += len(found)
            self._delete_settled()
        return count

    def record(self, run_id: str, points: list[Point]) -> None:
        """Keep a copy of points acknowledged over HTTP, for `sync` after a kill."""
        if self._http is None:
            return
        try:
            self._http.append([encode(run_id, p) for p in points])
        except (OSError, ValueError) as exc:
            self._http = None
            log.warning("relay: cannot keep a copy of the points sent over HTTP (%s); a kill "
                        "of this process would lose those not sent yet", exc)

    def close(self) -> None:
        """Read to the end (call once the writers stopped); the folder stays until
        `discard`."""
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join()
        try:
            self.read()
        except OSError as exc:
            log.error("relay: cannot read the metric journal in %s: %s; its points were not "
                      "sent and the folder is kept", self.directory, exc)
            return
        self._reader.finish()
        if self._reader.invalid:
            log.warning("relay: %d line(s) of the metric journal were not valid points and "
                        "were skipped", self._reader.invalid)
        if self._reader.torn:
            log.debug("relay: %d journal file(s) end in a cut line (its point went over "
                      "HTTP)", self._reader.torn)

    def discard(self) -> None:
        """Delete the folder (call once every point is sent or spooled, and the run ended)."""
        remove_journal(self.directory, self._lock_fd, self._created)
        self._lock_fd = None

    def _delete_settled(self) -> None:
        """Give read segments a mark, and delete those whose points are all settled."""
        mark = self.queue.mark()
        self._waiting = [(p, mark if m is None else m) for p, m in self._waiting]
        keep = []
        for path, seg_mark in self._waiting:
            if self.queue.settled(seg_mark):
                path.unlink(missing_ok=True)
            else:
                keep.append((path, seg_mark))
        self._waiting = keep

    def _loop(self) -> None:
        while not self._stopping.wait(POLL):
            try:
                self.read()
            except OSError as exc:  # read again at close, where a failure is reported
                log.debug("relay: reading the metric journal failed: %s", exc)
