"""The relay's metric queue: batch sizes, order, back pressure and flush accounting."""

from __future__ import annotations

import threading
import time

from mlflow_gitlab.relay.points import Point
from mlflow_gitlab.relay.queue import MetricQueue


def points(n: int, key: str = "loss") -> list[Point]:
    return [Point(key, float(i), 1_700_000_000_000 + i, i) for i in range(n)]


def test_batches_hold_at_most_1000_points_of_one_run_in_order():
    queue = MetricQueue(linger=0)
    queue.put("run-a", points(2500))
    batches = [queue.take() for _ in range(3)]
    assert [len(b.points) for b in batches] == [1000, 1000, 500]
    assert [p.step for b in batches for p in b.points] == list(range(2500))
    assert {b.run_id for b in batches} == {"run-a"}


def test_the_run_waiting_longest_goes_first():
    queue = MetricQueue(linger=0)
    queue.put("run-a", points(1000))
    queue.put("run-b", points(10))
    queue.put("run-a", points(500))
    order = [(b.run_id, len(b.points)) for b in (queue.take(), queue.take(), queue.take())]
    assert order == [("run-a", 1000), ("run-b", 10), ("run-a", 500)]


def test_a_small_batch_lingers_for_more_points_unless_a_flush_waits():
    now = [0.0]
    queue = MetricQueue(linger=10.0, clock=lambda: now[0])
    queue.put("run-a", points(3))
    taken = []
    taker = threading.Thread(target=lambda: taken.append(queue.take()))
    taker.start()
    time.sleep(0.2)
    assert taken == []  # lingering: the clock has not moved
    flusher = threading.Thread(target=queue.flush)
    flusher.start()
    taker.join(timeout=5)
    assert len(taken[0].points) == 3
    queue.settle(taken[0], 3)
    flusher.join(timeout=5)
    assert not flusher.is_alive()


def test_flush_waits_for_the_batch_in_flight_and_counts_what_was_sent():
    queue = MetricQueue(linger=0)
    queue.put("run-a", points(5))
    batch = queue.take()
    assert not queue.flush(timeout=0.1)  # taken but not settled yet
    queue.settle(batch, sent=4)
    assert queue.flush(timeout=1)
    counts = queue.snapshot()
    assert (counts.queued, counts.sent, counts.failed, counts.pending) == (5, 4, 1, 0)


def test_flush_ignores_points_queued_after_it_started():
    queue = MetricQueue(linger=0)
    queue.put("run-a", points(2))
    first = queue.take()
    queue.put("run-b", points(2))
    queue.settle(first, 2)
    assert queue.flush(timeout=0.5) is False  # run-b's points came before this flush
    queue.settle(queue.take(), 2)
    assert queue.flush(timeout=0.5)


def test_a_full_queue_slows_the_producer_down():
    queue = MetricQueue(limit=10, linger=0)
    queue.put("run-a", points(10))
    done = threading.Event()
    producer = threading.Thread(target=lambda: (queue.put("run-a", points(5)), done.set()))
    producer.start()
    assert not done.wait(0.2)  # blocked: the queue is full
    queue.settle(queue.take(), 10)
    assert done.wait(5)


def test_close_drains_then_ends():
    queue = MetricQueue(linger=60)
    queue.put("run-a", points(3))
    queue.close()
    batch = queue.take()  # no lingering once closed
    assert len(batch.points) == 3
    queue.settle(batch, 3)
    assert queue.take() is None


def test_a_queue_that_stays_full_refuses_instead_of_queueing_late():
    queue = MetricQueue(limit=10, linger=0)
    queue.put("run-a", points(10))
    started = time.monotonic()
    assert not queue.put("run-a", points(5), timeout=0.2)  # nothing queued: safe to retry
    assert time.monotonic() - started >= 0.2
    assert queue.snapshot().queued == 10
    queue.settle(queue.take(), 10)
    assert queue.put("run-a", points(5), timeout=0.2)
