"""The overall deadline of one request: when it passes, the request's socket is shut.

Socket timeouts bound each wait for a byte, not the whole exchange: a server that sends
one byte a second never trips them. A `Deadline` covers everything from the first byte
sent to the last byte read (redirects included): a single watchdog thread shuts the
connection's socket at that moment, whatever the request is doing, and the request fails
with `DeadlineExceeded`.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import math
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import requests


class DeadlineExceeded(requests.exceptions.ReadTimeout):
    """A request was still going when its deadline passed (a network error: retried where
    timeouts are)."""


class Deadline:
    """When one request must be over; `attach` the connections it uses.

    Attributes:
        seconds: the time it was given (for messages).
        at: the `time.monotonic()` moment it passes.
        passed: whether the watchdog shut its connection.
    """

    def __init__(self, seconds: float, until: float | None = None) -> None:
        self.seconds = seconds
        self.at = min(time.monotonic() + seconds, math.inf if until is None else until)
        self.passed = False
        self._lock = threading.Lock()
        self._connections: list[Any] = []
        self._closed = False
        _WATCHDOG.watch(self)

    def remaining(self) -> float:
        return self.at - time.monotonic()

    def attach(self, connection: Any) -> None:
        """Make `connection` (a urllib3 connection) this request's: shut at the deadline."""
        connection.mlflow_gitlab_deadline = self
        with self._lock:
            self._connections.append(connection)
        if self.passed or self.remaining() <= 0:
            self.expire()

    def extend(self, seconds: float) -> None:
        """Move the deadline `seconds` later (a body whose size is known only now)."""
        self.at += seconds
        self.seconds += seconds

    def check(self) -> None:
        """Raise `DeadlineExceeded` once the deadline has passed."""
        if self.passed or self.remaining() <= 0:
            self.passed = True
            raise self.error()

    def error(self) -> DeadlineExceeded:
        return DeadlineExceeded(f"no complete answer within {self.seconds:.0f} s "
                                "(MLFLOW_GITLAB_REQUEST_SECONDS)")

    def expire(self) -> None:
        """Shut the sockets of the connections this request still owns."""
        with self._lock:
            if self._closed:
                return
            self.passed = True
            connections = list(self._connections)
        for connection in connections:
            if getattr(connection, "mlflow_gitlab_deadline", None) is not self:
                continue  # back in the pool and serving another request by now
            sock = getattr(connection, "sock", None)
            if sock is not None and not isinstance(sock, socket.socket):
                sock = getattr(sock, "socket", None)  # TLS over a TLS proxy
            if isinstance(sock, socket.socket):
                with contextlib.suppress(OSError):
                    # The plain socket's shutdown, not SSLSocket's (which drops its TLS
                    # state under a thread that may be reading).
                    socket.socket.shutdown(sock, socket.SHUT_RDWR)

    def close(self) -> None:
        """The request is over: nothing is shut any more."""
        with self._lock:
            self._closed = True
            self._connections.clear()


class _Watchdog:
    """One daemon thread that expires deadlines in time order."""

    def __init__(self) -> None:
        self._wake = threading.Condition()
        self._heap: list[tuple[float, int, Deadline]] = []
        self._order = itertools.count()
        self._thread: threading.Thread | None = None

    def watch(self, deadline: Deadline) -> None:
        if math.isinf(deadline.at):
            return
        with self._wake:
            heapq.heappush(self._heap, (deadline.at, next(self._order), deadline))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="mlflow-gitlab-deadlines",
                                                daemon=True)
                self._thread.start()
            if self._heap[0][2] is deadline:  # the earliest now: wake the watchdog for it
                self._wake.notify()

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._heap or self._heap[0][0] > time.monotonic():
                    self._wake.wait(self._heap[0][0] - time.monotonic() if self._heap else None)
                at, _, due = heapq.heappop(self._heap)
                if due.at > at:  # extended meanwhile: watch for the new moment
                    heapq.heappush(self._heap, (due.at, next(self._order), due))
                    continue
            due.expire()


_WATCHDOG = _Watchdog()
_current = threading.local()


def current() -> Deadline | None:
    """The deadline of the request this thread is sending, if any."""
    return getattr(_current, "deadline", None)


@contextlib.contextmanager
def in_force(deadline: Deadline) -> Iterator[Deadline]:
    """Make `deadline` the one connections attach to while this thread sends."""
    previous = current()
    _current.deadline = deadline
    try:
        yield deadline
    finally:
        _current.deadline = previous
