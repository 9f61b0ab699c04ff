"""The relay's side of a metric journal: a private folder whose points feed the queue."""

from __future__ import annotations

import logging
import shutil
import tempfile
import threading
from collections import defaultdict
from pathlib import Path

from mlflow_gitlab.relay.journal import JournalReader
from mlflow_gitlab.relay.points import Point
from mlflow_gitlab.relay.queue import MetricQueue

log = logging.getLogger(__name__)
POLL = 0.1  # seconds between reads


class JournalIntake:
    """Reads the journal into `queue` every `POLL` seconds and whenever asked (`read`);
    `close()` reads it to the end and deletes it."""

    def __init__(self, queue: MetricQueue) -> None:
        self.queue = queue
        self.directory = Path(tempfile.mkdtemp(prefix="mlflow-gitlab-journal-"))
        self._reader = JournalReader(self.directory)
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="mlflow-gitlab-relay-journal",
                                        daemon=True)

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
        return count

    def close(self) -> None:
        """Read to the end (call once the writers stopped), then delete the folder."""
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
        shutil.rmtree(self.directory, ignore_errors=True)

    def _loop(self) -> None:
        while not self._stopping.wait(POLL):
            try:
                self.read()
            except OSError as exc:  # read again at close, where a failure is reported
                log.debug("relay: reading the metric journal failed: %s", exc)
