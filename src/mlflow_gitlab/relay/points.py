"""Metric points as the relay receives them: validated at once, so errors reach the child.

A point is acknowledged before it is sent, so everything GitLab would refuse must be refused
here first: GitLab inserts a `log-batch` in one statement and a single invalid point rejects
the whole batch, which would take the other points down with it.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

MAX_KEY_LENGTH = 250  # GitLab's `Ml::CandidateMetric` name limit
MAX_BATCH = 1000  # metrics per `log-batch`: MLflow's own client limit


class InvalidPoint(ValueError):
    """A metric point GitLab would reject; the message is for the child's MLflow client."""


@dataclass(frozen=True)
class Point:
    """One metric point, in the fields GitLab stores (`model_id` is MLflow 3's link only)."""

    key: str
    value: float | str  # MLflow's JSON sends NaN and infinities as strings
    timestamp: int
    step: int | None
    model_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The point as a `log-batch` metric: what GitLab stores, nothing else."""
        item: dict[str, Any] = {"key": self.key, "value": self.value,
                                "timestamp": self.timestamp}
        if self.step is not None:
            item["step"] = self.step
        return item

    @property
    def identity(self) -> tuple[str, str, int, int]:
        """What makes two points the same point (MLflow's own metrics primary key)."""
        return self.key, _number(self.value), self.timestamp, self.step or 0


def parse_point(item: Mapping[str, Any], *, finite: bool = False) -> Point:
    """A point from a `log-metric` body or a `log-batch` metric; with `finite`, as GitLab
    takes it: NaN and infinities refused (MLflow's own server stores them).

    Raises:
        InvalidPoint: a field is missing or malformed, or the key is too long for GitLab.
    """
    key = item.get("key")
    if not isinstance(key, str) or not key:
        raise InvalidPoint("Missing value for required parameter 'key'")
    if len(key) > MAX_KEY_LENGTH:
        raise InvalidPoint(f"Metric key {key[:40]!r}... is longer than GitLab's "
                           f"{MAX_KEY_LENGTH} characters")
    value = item.get("value")
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise InvalidPoint(f"Missing or invalid value for metric {key!r}")
    try:
        number = float(value)
    except ValueError:
        raise InvalidPoint(f"Value {str(value)[:40]!r} of metric {key!r} is not a number") \
            from None
    if finite and not math.isfinite(number):  # GitLab's Grape `Float` param refuses them
        raise InvalidPoint(f"Value {value!r} of metric {key!r} is not a finite number, "
                           "which GitLab requires")
    timestamp = _integer(item.get("timestamp"), "timestamp", key, required=True)
    step = _integer(item.get("step"), "step", key, required=False)
    model_id = item.get("model_id") or None
    return Point(key, value, timestamp, step, model_id if isinstance(model_id, str) else None)


def parse_points(items: Iterable[Any], *, finite: bool = False) -> list[Point]:
    """Every metric of a `log-batch` body, all or none (`finite`: see `parse_point`).

    Raises:
        InvalidPoint: any item is malformed.
    """
    points = []
    for item in items:
        if not isinstance(item, Mapping):
            raise InvalidPoint("Each metric must be a JSON object")
        points.append(parse_point(item, finite=finite))
    return points


def already_stored(points: Sequence[Point], stored: Iterable[Point]) -> list[bool]:
    """For each of `points`, whether `stored` holds it (repeats are counted, so a point
    sent twice and stored once is stored for the first only)."""
    have = Counter(p.identity for p in stored)
    flags = []
    for point in points:
        flags.append(have[point.identity] > 0)
        have[point.identity] -= 1 if flags[-1] else 0
    return flags


def missing_from(points: Sequence[Point], stored: Iterable[Point]) -> list[Point]:
    """The points that `stored` does not already hold, in order."""
    return [p for p, done in zip(points, already_stored(points, stored), strict=True)
            if not done]


def chunks(points: list[Point], size: int = MAX_BATCH) -> list[list[Point]]:
    """`points` cut into `log-batch`-sized lists, in order."""
    return [points[i:i + size] for i in range(0, len(points), size)]


def _integer(raw: Any, name: str, key: str, *, required: bool) -> int | None:
    if raw is None:
        if required:
            raise InvalidPoint(f"Missing value for required parameter '{name}' of metric "
                               f"{key!r}")
        return None
    if isinstance(raw, bool):
        raise InvalidPoint(f"Invalid {name} {raw!r} for metric {key!r}")
    try:
        number = int(raw)
    except (TypeError, ValueError):
        raise InvalidPoint(f"Invalid {name} {raw!r} for metric {key!r}") from None
    if isinstance(raw, float) and raw != number:
        raise InvalidPoint(f"Invalid {name} {raw!r} for metric {key!r}")
    return number


def _number(value: float | str) -> str:
    """A comparable form: `1` and `1.0` agree, and so do two NaNs (NaN != NaN as a float)."""
    return repr(float(value))
