"""The one retry policy: what is retried, how long it waits, and that it stops in time."""

from __future__ import annotations

import email.utils
import random

import pytest

from mlflow_gitlab.errors import GitLabAPIError
from mlflow_gitlab.http.retry import Retrier, RetryPolicy, TransientError, is_transient, server_wait

NOW = 1_700_000_000.0


@pytest.mark.parametrize(("status", "transient"), [
    (200, False), (400, False), (401, False), (403, False), (404, False), (408, True),
    (429, True), (500, True), (501, False), (502, True), (503, True), (504, True),
    (505, False), (522, True)])
def test_which_statuses_are_retried(status, transient):
    assert is_transient(status) is transient


@pytest.mark.parametrize(("headers", "rate_limited", "wait"), [
    ({"Retry-After": "7"}, True, 7.0),
    ({"retry-after": "2"}, False, 2.0),  # a 503 may say when to come back, too
    ({"Retry-After": email.utils.formatdate(NOW + 30, usegmt=True)}, True, 30.0),
    ({"RateLimit-Reset": str(int(NOW) + 12)}, True, 12.0),
    ({"RateLimit-Reset": str(int(NOW) + 12)}, False, None),  # reset means rate limits only
    ({"Retry-After": "1", "RateLimit-Reset": str(int(NOW) + 60)}, True, 1.0),
    ({"RateLimit-Reset": str(int(NOW) - 5)}, True, 0.0),  # already past
    ({"Retry-After": "soon"}, True, None),
    ({}, True, None),
])
def test_server_wait_reads_retry_after_then_ratelimit_reset(headers, rate_limited, wait):
    assert server_wait(headers, NOW, rate_limited=rate_limited) == wait


def test_backoff_grows_with_jitter_and_is_capped():
    policy, rng = RetryPolicy(base=1.0, cap=8.0), random.Random(1)
    for attempt, ceiling in ((1, 1), (2, 2), (3, 4), (4, 8), (5, 8), (9, 8)):
        waits = {policy.backoff(attempt, rng) for _ in range(50)}
        assert all(ceiling / 2 <= w <= ceiling for w in waits)
        assert len(waits) > 1  # jittered: concurrent clients do not retry in lockstep


class Clock:
    """A fake monotonic clock that `sleep` advances."""

    def __init__(self) -> None:
        self.now, self.sleeps = 0.0, []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def retrier(policy: RetryPolicy, clock: Clock, transient=(ConnectionError,)) -> Retrier:
    return Retrier(policy, transient=transient, sleep=clock.sleep, clock=lambda: clock.now,
                   wall=lambda: NOW, rng=random.Random(0))


def failing(*failures):
    """An attempt that raises `failures` in turn, then returns "ok"; counts its calls."""
    calls = []

    def attempt():
        calls.append(1)
        if len(calls) <= len(failures):
            raise failures[len(calls) - 1]
        return "ok"
    return attempt, calls


def test_a_429_waits_exactly_what_retry_after_says():
    clock = Clock()
    attempt, calls = failing(TransientError("429", 429, {"Retry-After": "3"}))
    assert retrier(RetryPolicy(), clock).call(attempt, "GET x") == "ok"
    assert (len(calls), clock.sleeps) == (2, [3.0])


def test_5xx_and_dropped_connections_back_off_then_succeed():
    clock = Clock()
    attempt, calls = failing(TransientError("503", 503), ConnectionError("reset by peer"),
                             TransientError("502", 502))
    assert retrier(RetryPolicy(base=1.0), clock).call(attempt, "PUT x") == "ok"
    assert len(calls) == 4
    assert [round(s) for s in clock.sleeps] != [0, 0, 0]
    assert all(0.5 <= s <= 4 for s in clock.sleeps)


def test_gives_up_after_the_last_attempt_with_one_clear_line():
    clock = Clock()
    attempt, calls = failing(*[TransientError("503 Service Unavailable", 503)] * 10)
    with pytest.raises(GitLabAPIError) as info:
        retrier(RetryPolicy(attempts=3), clock).call(attempt, "PUT generic/p/1/f")
    assert len(calls) == 3 and len(clock.sleeps) == 2
    assert str(info.value).startswith("PUT generic/p/1/f failed after 3 attempt(s)")
    assert "503 Service Unavailable" in str(info.value)
    assert "MLFLOW_GITLAB_RETRY" in info.value.hint


def test_never_waits_past_the_time_budget():
    clock = Clock()
    attempt, calls = failing(TransientError("429", 429, {"Retry-After": "3600"}))
    with pytest.raises(GitLabAPIError, match="retry budget"):
        retrier(RetryPolicy(budget=60), clock).call(attempt, "GET x")
    assert (len(calls), clock.sleeps) == (1, [])


def test_other_errors_are_not_retried():
    clock = Clock()
    attempt, calls = failing(ValueError("a bug"))
    with pytest.raises(ValueError):
        retrier(RetryPolicy(), clock).call(attempt, "GET x")
    assert len(calls) == 1


def test_a_single_attempt_is_never_repeated():
    """What a body that cannot be re-read gets: one attempt, then a clear error."""
    clock = Clock()
    attempt, calls = failing(ConnectionError("broken pipe"))
    with pytest.raises(GitLabAPIError, match="connection dropped"):
        retrier(RetryPolicy(), clock).call(attempt, "PUT x", attempts=1)
    assert len(calls) == 1
