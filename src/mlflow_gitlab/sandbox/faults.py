"""Fault injection: make the next N matching requests fail, stall, or drop the connection."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Fault:
    """One rule. `path` is a regex searched in the raw request path (query excluded).

    Exactly one effect applies: answer `status` (with `retry_after` seconds on a 429),
    wait `delay` seconds before handling normally, or `drop` the connection after reading
    `drop_after` bytes of the request body (or, for a request without a body, after sending
    `drop_after` bytes of the response body). With `processed`, the request is handled
    first and its answer replaced by `status` (a server that stored it, then failed), or cut
    after `drop_after` bytes with `drop` (the answer is lost); with
    `body`, the `status` answer carries that JSON body instead of GitLab's error.
    """

    method: str = "*"
    path: str = ".*"
    times: int = 1
    status: int | None = None
    retry_after: float | None = None
    delay: float = 0.0
    drop: bool = False
    drop_after: int = 0
    processed: bool = False
    body: Any = None
    _regex: re.Pattern[str] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.method = self.method.upper()
        self._regex = re.compile(self.path)
        if self.status is None and not self.drop and not self.delay:
            raise ValueError("a fault needs a status, a delay or drop=True")
        if self.body is not None and self.status is None:
            raise ValueError("a fault's body needs a status")
        if self.processed and self.status is None and not self.drop:
            raise ValueError("a processed fault needs a status or drop=True")

    def matches(self, method: str, raw_path: str) -> bool:
        return self.method in ("*", method) and bool(self._regex.search(raw_path))

    def as_dict(self) -> dict[str, object]:
        return {k: v for k, v in vars(self).items() if not k.startswith("_")}


class FaultInjector:
    """Thread-safe queue of fault rules, and a record of the ones that fired."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[Fault] = []
        self.fired: list[dict[str, object]] = []

    def add(self, fault: Fault) -> Fault:
        with self._lock:
            self._rules.append(fault)
        return fault

    def take(self, method: str, raw_path: str) -> Fault | None:
        """The first rule matching this request, counted down by one use."""
        with self._lock:
            for rule in self._rules:
                if rule.times > 0 and rule.matches(method, raw_path):
                    rule.times -= 1
                    if rule.times == 0:
                        self._rules.remove(rule)
                    self.fired.append({"method": method, "path": raw_path,
                                       "status": rule.status, "drop": rule.drop,
                                       "delay": rule.delay})
                    return rule
        return None

    def pending(self) -> list[dict[str, object]]:
        with self._lock:
            return [rule.as_dict() for rule in self._rules]

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()
            self.fired.clear()
