"""Fault injection: make the next N matching requests fail, stall, drop the connection,
answer odd bodies, redirect elsewhere, or drip their answer byte by byte."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any


@dataclass
class Fault:
    """One rule. `path` is a regex searched in the raw request path (query excluded).

    Exactly one effect applies: answer `status` (with `retry_after` seconds on a 429),
    wait `delay` seconds before handling normally, or `drop` the connection after reading
    `drop_after` bytes of the request body (or, for a request without a body, after sending
    `drop_after` bytes of the response body). With `processed`, the request is handled
    first and its answer replaced by `status` (a server that stored it, then failed), or cut
    after `drop_after` bytes with `drop` (the answer is lost).

    With `echo` ("json" or "text"), the `status` answer's body repeats the request line and
    headers, credentials included, as some proxies and debug pages do: "json" as GitLab's
    `{"message": ...}` on one line, "text" as the raw request head. `skip` lets the first
    `skip` matching requests through untouched (to reach the n-th call of a command).

    Odd answers: with `body` (JSON for a dict or list, else as given, with `content_type`)
    the answer is that body, with `status` (default 200); with `location` it is a redirect
    there (`status` default 302). `drip` sends the answer (the normal one, or the fault's)
    one byte every `drip` seconds.
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
    body: Any = None  # dict/list: JSON; bytes/str: as is
    echo: str | None = None
    skip: int = 0
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
        if self.processed and self.status is None and not self.drop:
            raise ValueError("a processed fault needs a status or drop=True")
        if self.echo not in (None, "json", "text") or (self.echo and self.status is None):
            raise ValueError('echo is "json" or "text", with a status')

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
                    if rule.skip > 0:
                        rule.skip -= 1
                        continue
                    rule.times -= 1
                    if rule.times == 0:
                        self._rules.remove(rule)
                    self.fired.append({"method": method, "path": raw_path,
                                       "status": rule.status, "drop": rule.drop,
                                       "delay": rule.delay, "echo": rule.echo})
                    return rule
        return None

    def pending(self) -> list[dict[str, object]]:
        with self._lock:
            return [rule.as_dict() for rule in self._rules]

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()
            self.fired.clear()


def echoed_request(fault: Fault, request_line: str, headers: Iterable[tuple[str, str]]
                   ) -> tuple[str | dict[str, str], str]:
    """The body (and its content type) of an `echo` fault's answer."""
    try:
        reason = HTTPStatus(fault.status).phrase
    except ValueError:
        reason = "Error"
    lines = [request_line, *(f"{name}: {value}" for name, value in headers)]
    if fault.echo == "json":
        return {"message": f"{fault.status} {reason}: request {'; '.join(lines)}"}, \
            "application/json"
    return f"{fault.status} {reason}\r\n\r\n" + "\r\n".join(lines) + "\r\n", "text/plain"
