"""Compare candidates by one metric: rank, deltas against a baseline, marks, the winner and
a summary of the candidates past the top N. Pure: no I/O, no MLflow.
"""

from __future__ import annotations

import enum
import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

MODES = ("min", "max")


class Scorable(Protocol):
    """What a candidate must offer to be compared."""

    run_id: str
    start_time: int
    metrics: Mapping[str, float]


class Mark(str, enum.Enum):
    """How a value stands against the baseline."""

    BETTER = "better"
    WORSE = "worse"
    SAME = "same"
    NONE = "none"  # no value or no baseline: nothing to say


@dataclass(frozen=True)
class Scored:
    """One candidate with its metric judged.

    Attributes:
        candidate: the candidate as gathered.
        value: the metric, or None when the run did not log it or logged NaN/inf.
        logged: the metric as logged (NaN and inf kept), or None.
        rank: 1 for the best; None for candidates without a value.
        delta: value - baseline, or None.
        relative: delta / |baseline|, or None (no value, no baseline, or a zero baseline).
        mark: better / worse / same against the baseline, in the metric's direction.
        winner: the best candidate.
    """

    candidate: Any
    value: float | None
    logged: float | None
    rank: int | None
    delta: float | None
    relative: float | None
    mark: Mark
    winner: bool = False


@dataclass(frozen=True)
class Rest:
    """The candidates past the top N, summarized."""

    count: int
    best: float | None
    median: float | None
    worst: float | None
    better: int  # how many beat the baseline
    missing: int  # how many have no value


@dataclass(frozen=True)
class Comparison:
    """Every candidate judged, best first; `top` is what a report shows row by row."""

    metric: str
    mode: str
    baseline: float | None
    rows: tuple[Scored, ...]
    top: tuple[Scored, ...]
    rest: Rest | None

    @property
    def winner(self) -> Scored | None:
        return self.rows[0] if self.rows and self.rows[0].winner else None

    def shown(self, top: int) -> Comparison:
        """The same comparison showing only the best `top` rows (the rest summarized)."""
        return replace(self, top=self.rows[:top], rest=summarize(self.rows[top:]))


def judge(value: float | None, baseline: float | None, mode: str
          ) -> tuple[float | None, float | None, Mark]:
    """(delta, relative delta, mark) of `value` against `baseline` for a `mode` metric.

    Values equal up to float noise are the SAME; a zero baseline has no relative delta.
    """
    if value is None or baseline is None:
        return None, None, Mark.NONE
    delta = value - baseline
    relative = delta / abs(baseline) if baseline else None
    if math.isclose(value, baseline, rel_tol=1e-9, abs_tol=1e-12):
        return 0.0, 0.0 if relative is not None else None, Mark.SAME
    better = delta < 0 if mode == "min" else delta > 0
    return delta, relative, Mark.BETTER if better else Mark.WORSE


def compare(candidates: Sequence[Scorable], metric: str, mode: str, baseline: float | None,
            top: int) -> Comparison:
    """Rank `candidates` by `metric` and judge each against `baseline`.

    Args:
        candidates: the runs to compare.
        metric: the metric's key.
        mode: "min" (lower is better) or "max".
        baseline: the value to beat; None (or NaN/inf) when there is none.
        top: how many rows a report shows; the others are summarized in `rest`.

    Returns:
        The comparison: candidates with a value first, best first (the earliest run wins a
        tie, as the release does), then those without one, in their given order.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
    baseline = _finite(baseline)
    sign = 1 if mode == "min" else -1
    valued = [(c, v) for c in candidates if (v := _finite(c.metrics.get(metric))) is not None]
    valued.sort(key=lambda cv: (sign * cv[1], cv[0].start_time, cv[0].run_id))
    unvalued = [c for c in candidates if _finite(c.metrics.get(metric)) is None]
    rows = []
    for rank, (candidate, value) in enumerate(valued, 1):
        delta, relative, mark = judge(value, baseline, mode)
        rows.append(Scored(candidate, value, value, rank, delta, relative, mark, rank == 1))
    rows += [Scored(c, None, c.metrics.get(metric), None, None, None, Mark.NONE)
             for c in unvalued]
    return Comparison(metric, mode, baseline, tuple(rows), tuple(rows[:top]),
                      summarize(rows[top:]))


def summarize(rows: Sequence[Scored]) -> Rest | None:
    """The summary of `rows` (None when there are none)."""
    if not rows:
        return None
    values = [r.value for r in rows if r.value is not None]
    ordered = [r.value for r in rows if r.rank is not None]  # best first
    return Rest(count=len(rows), best=ordered[0] if ordered else None,
                median=statistics.median(values) if values else None,
                worst=ordered[-1] if ordered else None,
                better=sum(r.mark is Mark.BETTER for r in rows),
                missing=len(rows) - len(values))


def _finite(value: float | None) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None
