"""Fault injection: make the next N matching requests fail, stall, drop the connection,
answer odd bodies, redirect elsewhere, or drip their answer byte by byte."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field


@dataclass
class Fault:
    """One rule. `path` is a regex searched in the raw request path (query excluded).

    Exactly one effect applies: answer `status` (with `retry_after` seconds on a 429),
    wait `delay` seconds before handling normally, or `drop` the connection after reading
    `drop_after` bytes of the request body (or, for a request without a body, after sending
    `drop_after` bytes of the response body).

    Odd answers: with `body` (and `content_type`) the answer is that body, with `status`
    (default 200); with `location` it is a redirect there (`status` default 302). `drip`
    sends the answer (the normal one, or the fault's) one byte every `drip` seconds.
    """

    method: str = "*"
    path: str = ".*"
    times: int = 1
    status: int | None = None
    retry_after: float | None = None
    delay: float = 0.0
    drop: bool = False
    drop_after: int = 0
    body: bytes | str | None = None
    content_type: str | None = None
    location: str | None = None
    drip: float = 0.0
    _regex: re.Pattern[str] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.method = self.method.upper()
        self._regex = re.compile(self.path)
        if self.status is None and (self.body is not None or self.location is not None):
            self.status = 302 if self.location is not None else 200
        if self.status is None and not self.drop and not self.delay and not self.drip:
            raise ValueError("a fault needs a status, a body, a location, a delay, a drip "
                             "or drop=True")

    def matches(self, method: str, raw_path: str) -> bool:
        return self.method in ("*", method) and bool(self._regex.search(raw_path))

    def as_dict(self) -> dict[str, object]:
        return {k: (f"<{len(v)} bytes>" if k == "body" and v is not None else v)
                for k, v in vars(self).items() if not k.startswith("_")}


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
