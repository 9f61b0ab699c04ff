"""The one retry policy for every call to GitLab: when to try again, and how long to wait.

A 429 waits what the server asks (`Retry-After`, else `RateLimit-Reset`);
5xx answers, timeouts and dropped connections back off exponentially with jitter. Attempts
and total time are both bounded, so a dead server fails a job in minutes, not hours.
"""

from __future__ import annotations

import email.utils
import logging
import random
import time
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from itertools import count
from typing import TypeVar

from mlflow_gitlab.errors import GitLabAPIError

log = logging.getLogger(__name__)
T = TypeVar("T")
# When the innermost `Retrier.call` under way must be over (`time.monotonic()`): requests
# sent meanwhile end by then, so no attempt outlives the budget.
_BUDGET_END: ContextVar[float | None] = ContextVar("mlflow_gitlab_budget_end", default=None)


def budget_end() -> float | None:
    """The `time.monotonic()` moment the retry budget under way runs out (None: none)."""
    return _BUDGET_END.get()


def is_transient(status: int) -> bool:
    """Statuses worth another attempt: rate limits, timeouts and server-side failures."""
    return status in (408, 429) or (500 <= status <= 599 and status not in (501, 505))


class TransientError(Exception):
    """A failure worth another attempt: a transient status, or a transfer cut short."""

    def __init__(self, message: str, status: int | None = None,
                 headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.headers = dict(headers or {})


@dataclass(frozen=True)
class RetryPolicy:
    """How often to try, and how long to wait in between.

    Attributes:
        attempts: attempts in all, the first included.
        budget: seconds from the first attempt; a wait that would end past it is not taken.
        base: the first backoff in seconds, doubled per attempt up to `cap`.
        cap: the longest backoff in seconds.
    """

    attempts: int = 6
    budget: float = 300.0
    base: float = 0.5
    cap: float = 30.0

    def backoff(self, attempt: int, rng: random.Random) -> float:
        """Exponential backoff with "equal jitter": half fixed, half random, never zero."""
        ceiling = min(self.cap, self.base * 2 ** (attempt - 1))
        return ceiling / 2 + rng.uniform(0, ceiling / 2)

    def wait(self, attempt: int, failure: TransientError, rng: random.Random,
             now: float) -> float:
        """Seconds to wait after failed attempt number `attempt` (the first is 1).

        Args:
            attempt: the attempt that just failed, from 1.
            failure: what went wrong (status and headers when the server answered).
            rng: the jitter's source.
            now: the wall clock (Unix time), for `RateLimit-Reset` and HTTP dates.
        """
        if failure.status in (429, 503):
            told = server_wait(failure.headers, now, rate_limited=failure.status == 429)
            if told is not None:
                return told
        return self.backoff(attempt, rng)


def server_wait(headers: Mapping[str, str], now: float, *, rate_limited: bool) -> float | None:
    """The wait a server asks for, in seconds, or None when it says nothing usable.

    `Retry-After` (seconds or an HTTP date) first; on a 429 without it, `RateLimit-Reset`
    (Unix time) minus `now`.
    """
    lower = {k.lower(): v.strip() for k, v in headers.items()}
    retry_after = lower.get("retry-after", "")
    if retry_after:
        try:
            return max(0.0, float(retry_after))
        except ValueError:
            pass
        try:
            return max(0.0, email.utils.parsedate_to_datetime(retry_after).timestamp() - now)
        except (TypeError, ValueError):
            pass
    reset = lower.get("ratelimit-reset", "")
    if rate_limited and reset.isdigit():
        return max(0.0, int(reset) - now)
    return None


class Retrier:
    """Calls an attempt until it succeeds under a `RetryPolicy`.

    `transient` lists the exception types (besides `TransientError`) worth another attempt;
    the clocks, `sleep` and the RNG are injectable for tests.
    """

    def __init__(self, policy: RetryPolicy, *,
                 transient: tuple[type[BaseException], ...] = (),
                 sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic,
                 wall: Callable[[], float] = time.time,
                 rng: random.Random | None = None) -> None:
        self.policy, self.transient = policy, transient
        self.sleep, self.clock, self.wall = sleep, clock, wall
        self.rng = rng or random.Random()

    def call(self, attempt: Callable[[], T], what: str, *, attempts: int | None = None) -> T:
        """Return `attempt()`'s result, calling it again after each transient failure.

        Args:
            attempt: one try; raises `TransientError` (or a `transient` type) to be retried.
            what: names the operation in log lines and errors (`PUT generic/x/1/f.bin`).
            attempts: a lower limit than the policy's (1: never retry).

        Raises:
            GitLabAPIError: still failing when the attempts or the time budget ran out.
        """
        outer = _BUDGET_END.get()
        end = time.monotonic() + self.policy.budget
        token = _BUDGET_END.set(end if outer is None else min(outer, end))
        try:
            return self._call(attempt, what, attempts)
        finally:
            _BUDGET_END.reset(token)

    def _call(self, attempt: Callable[[], T], what: str, attempts: int | None) -> T:
        limit = min(attempts or self.policy.attempts, self.policy.attempts)
        started = self.clock()
        for n in count(1):
            try:
                return attempt()
            except TransientError as exc:
                failure = exc
            except self.transient as exc:
                failure = TransientError(describe_error(exc))
                failure.__cause__ = exc
            wait = self.policy.wait(n, failure, self.rng, self.wall())
            elapsed = self.clock() - started
            if n >= limit:
                raise GitLabAPIError(
                    f"{what} failed after {n} attempt(s) in {elapsed:.0f} s: {failure}",
                    hint=_HINT) from failure
            if elapsed + wait > self.policy.budget:
                raise GitLabAPIError(
                    f"{what} failed: {failure}; waiting {wait:.0f} s more would pass the "
                    f"{self.policy.budget:.0f} s retry budget", hint=_HINT) from failure
            log.info("%s: %s; retrying in %.1f s (attempt %d of %d)", what, failure, wait,
                     n + 1, limit)
            self.sleep(wait)
        raise AssertionError("unreachable")  # pragma: no cover


_HINT = ("GitLab or the network is unavailable; retry later, or raise "
         "MLFLOW_GITLAB_RETRY_ATTEMPTS / MLFLOW_GITLAB_RETRY_SECONDS")


def describe_error(exc: BaseException) -> str:
    """A short, token-free description of a network error."""
    text = str(exc)
    lower = text.lower()
    for needles, meaning in ((("timed out", "timeout"), "timed out"),
                             (("connection refused",), "connection refused"),
                             (("name or service not known", "nodename nor servname"),
                              "unknown host"),
                             (("connection", "broken pipe", "reset", "incompleteread"),
                              "connection dropped")):
        if any(needle in lower for needle in needles):
            return meaning
    return (text.splitlines() or [type(exc).__name__])[0][:200]
