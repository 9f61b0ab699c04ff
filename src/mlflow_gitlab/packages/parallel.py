"""Bounded parallel transfers: a few files at a time, and the first failure stops the rest."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def in_parallel(fn: Callable[[T], R], items: Sequence[T], parallel: int,
                stop: threading.Event, *, first: T | None = None) -> list[R]:
    """`fn` on every item, at most `parallel` at a time; results in the items' order.

    Args:
        fn: the transfer of one item; it should give up soon after `stop` is set.
        items: what to transfer.
        parallel: the most transfers at once.
        stop: set on the first failure (or Ctrl-C) so running transfers abort.
        first: an item of `items` to run alone before the others start.

    Raises:
        The first exception any transfer raised.
    """
    rest = [item for item in items if item is not first]
    results: dict[int, R] = {}
    if first is not None:
        results[id(first)] = fn(first)
    with ThreadPoolExecutor(max_workers=parallel, thread_name_prefix="transfer") as pool:
        futures = {id(item): pool.submit(fn, item) for item in rest}
        try:
            done, _ = wait(futures.values(), return_when=FIRST_EXCEPTION)
            failed = next((f.exception() for f in done if f.exception() is not None), None)
            if failed is not None:
                raise failed
        finally:
            stop.set()
            for future in futures.values():
                future.cancel()
        results.update((key, future.result()) for key, future in futures.items())
    return [results[id(item)] for item in items]
