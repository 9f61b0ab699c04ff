"""The relay's queue of acknowledged metric points, with the accounting a flush waits on.

Points are kept per run in arrival order and taken out in `log-batch`-sized batches. Every
point gets a sequence number; `flush()` waits until every point queued before it is settled
(sent, or given up on), whatever the order batches of different runs finish in.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field

from mlflow_gitlab.relay.points import MAX_BATCH, Point


@dataclass(frozen=True)
class Batch:
    """Points of one run taken out together; `first` is the sequence number of the first."""

    run_id: str
    points: tuple[Point, ...]
    first: int


@dataclass
class QueueCounts:
    """What went through the queue, in points."""

    queued: int = 0
    sent: int = 0
    failed: int = 0
    pending: int = 0
    largest_batch: int = 0
    batches: int = 0


@dataclass
class _Run:
    points: deque[tuple[int, float, Point]] = field(default_factory=deque)  # seq, since, point


class MetricQueue:
    """Thread-safe: handlers `put`, one flusher `take`s and `settle`s, anyone may `flush`.

    Args:
        limit: points held at most; `put` blocks while the queue is full (back pressure on
            the child instead of unbounded memory).
        linger: seconds a batch smaller than `MAX_BATCH` waits for more points, unless a
            flush is waiting for it.
        clock: monotonic seconds, injectable for tests.
    """

    def __init__(self, limit: int = 200_000, linger: float = 0.05,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.limit, self.linger, self.clock = limit, linger, clock
        self._cond = threading.Condition()
        self._runs: OrderedDict[str, _Run] = OrderedDict()  # oldest pending point first
        self._in_flight: dict[int, Batch] = {}
        self._next_seq = 0
        self._urgent_below = 0  # points with a lower sequence number are waited for
        self._closed = False
        self.counts = QueueCounts()

    def put(self, run_id: str, points: list[Point], timeout: float | None = None) -> bool:
        """Queue `points` for `run_id`, waiting while the queue is full; False (nothing
        queued) if it is still full after `timeout` seconds."""
        if not points:
            return True
        deadline = None if timeout is None else self.clock() + timeout
        with self._cond:
            while self.counts.pending >= self.limit and not self._closed:
                left = None if deadline is None else deadline - self.clock()
                if left is not None and left <= 0:
                    return False
                self._cond.wait(left)
            was_empty = not self._runs
            run = self._runs.setdefault(run_id, _Run())
            now = self.clock()
            for point in points:
                run.points.append((self._next_seq, now, point))
                self._next_seq += 1
            self.counts.queued += len(points)
            self.counts.pending += len(points)
            # Waking the flusher on every point costs more than the point: it needs to know
            # when lingering starts and when a batch is full; it wakes for the rest itself.
            if was_empty or len(run.points) >= MAX_BATCH:
                self._cond.notify_all()
        return True

    def take(self, max_points: int = MAX_BATCH) -> Batch | None:
        """The next batch: up to `max_points` of the run waiting longest; None once closed
        and empty. A small batch lingers for more points unless a flush waits for it."""
        with self._cond:
            while True:
                run_id = next(iter(self._runs), None)
                if run_id is None:
                    if self._closed:
                        return None
                    self._cond.wait()
                    continue
                run = self._runs[run_id]
                seq, since, _ = run.points[0]
                wait = since + self.linger - self.clock()
                urgent = self._closed or seq < self._urgent_below
                if len(run.points) < max_points and wait > 0 and not urgent:
                    self._cond.wait(wait)
                    continue
                return self._cut(run_id, run, max_points)

    def settle(self, batch: Batch, sent: int) -> None:
        """Record that `sent` of the batch's points reached the server (the rest failed)."""
        with self._cond:
            del self._in_flight[batch.first]
            self.counts.sent += sent
            self.counts.failed += len(batch.points) - sent
            self._cond.notify_all()

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every point queued so far is settled; False if `timeout` ran out."""
        deadline = None if timeout is None else self.clock() + timeout
        with self._cond:
            target = self._next_seq
            self._urgent_below = max(self._urgent_below, target)
            self._cond.notify_all()
            while self._oldest_unsettled() < target:
                left = None if deadline is None else deadline - self.clock()
                if left is not None and left <= 0:
                    return False
                self._cond.wait(left)
            return True

    def mark(self) -> int:
        """A mark for "every point queued so far" (see `settled`)."""
        with self._cond:
            return self._next_seq

    def settled(self, mark: int) -> bool:
        """Whether every point queued before `mark` was taken is settled (sent, or given
        up on and spooled)."""
        with self._cond:
            return self._oldest_unsettled() >= mark

    def close(self) -> None:
        """Take no more points; `take` drains what is left without lingering, then ends."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def snapshot(self) -> QueueCounts:
        """A copy of the counts, consistent at one instant."""
        with self._cond:
            return QueueCounts(**vars(self.counts))

    def _cut(self, run_id: str, run: _Run, max_points: int) -> Batch:
        n = min(max_points, len(run.points))
        items = [run.points.popleft() for _ in range(n)]
        if run.points:  # other runs' older points go first
            self._runs = OrderedDict(sorted(self._runs.items(),
                                            key=lambda kv: kv[1].points[0][0]))
        else:
            del self._runs[run_id]
        batch = Batch(run_id, tuple(p for _, _, p in items), items[0][0])
        self._in_flight[batch.first] = batch
        self.counts.pending -= n
        self.counts.batches += 1
        self.counts.largest_batch = max(self.counts.largest_batch, n)
        self._cond.notify_all()
        return batch

    def _oldest_unsettled(self) -> int:
        """The lowest sequence number not yet settled (queued or in flight)."""
        oldest = self._next_seq
        for run in self._runs.values():
            oldest = min(oldest, run.points[0][0])
        for first in self._in_flight:
            oldest = min(oldest, first)
        return oldest
