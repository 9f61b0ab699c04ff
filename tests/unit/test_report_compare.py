"""Comparing candidates with a baseline: deltas, better/worse marks, the winner, the rest."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import pytest

from mlflow_gitlab.report.compare import Mark, compare, judge


@dataclass(frozen=True)
class Run:
    run_id: str
    metrics: dict = field(default_factory=dict)
    start_time: int = 0


def runs(*losses, key="loss"):
    return [Run(f"r{i}", {} if v is None else {key: v}, start_time=i)
            for i, v in enumerate(losses)]


def test_lower_is_better_for_a_min_metric():
    c = compare(runs(0.30, 0.20, 0.25), "loss", "min", baseline=0.25, top=10)
    assert [r.candidate.run_id for r in c.rows] == ["r1", "r2", "r0"]
    assert [r.rank for r in c.rows] == [1, 2, 3]
    assert [r.mark for r in c.rows] == [Mark.BETTER, Mark.SAME, Mark.WORSE]
    assert c.winner.candidate.run_id == "r1" and c.winner.winner
    assert c.rows[0].delta == pytest.approx(-0.05)
    assert c.rows[0].relative == pytest.approx(-0.2)
    assert c.rows[2].delta == pytest.approx(0.05)
    assert c.rows[2].relative == pytest.approx(0.2)


def test_higher_is_better_for_a_max_metric():
    c = compare(runs(0.80, 0.90, 0.70, key="acc"), "acc", "max", baseline=0.85, top=10)
    assert [r.candidate.run_id for r in c.rows] == ["r1", "r0", "r2"]
    assert [r.mark for r in c.rows] == [Mark.BETTER, Mark.WORSE, Mark.WORSE]
    assert c.rows[0].delta == pytest.approx(0.05)
    assert c.rows[1].delta == pytest.approx(-0.05)
    assert c.rows[1].relative == pytest.approx(-0.05 / 0.85)


@pytest.mark.parametrize(("mode", "value", "mark"), [
    ("min", 0.1, Mark.BETTER), ("min", 0.3, Mark.WORSE),
    ("max", 0.1, Mark.WORSE), ("max", 0.3, Mark.BETTER),
    ("min", 0.1 + 0.1, Mark.SAME), ("max", 0.1 + 0.1, Mark.SAME)])
def test_judge_marks_by_direction(mode, value, mark):
    assert judge(value, 0.2, mode)[2] is mark


def test_values_equal_up_to_float_noise_are_the_same():
    delta, relative, mark = judge(0.1 + 0.2, 0.3, "min")
    assert (delta, relative, mark) == (0.0, 0.0, Mark.SAME)


def test_a_tie_goes_to_the_earliest_run():
    c = compare([Run("late", {"loss": 0.2}, 200), Run("early", {"loss": 0.2}, 100),
                 Run("worse", {"loss": 0.3}, 50)], "loss", "min", None, top=10)
    assert [r.candidate.run_id for r in c.rows] == ["early", "late", "worse"]
    assert [r.winner for r in c.rows] == [True, False, False]


def test_without_a_baseline_there_are_no_deltas_but_a_winner():
    c = compare(runs(0.3, 0.2), "loss", "max", baseline=None, top=10)
    assert c.winner.candidate.run_id == "r0"
    assert {(r.delta, r.relative, r.mark) for r in c.rows} == {(None, None, Mark.NONE)}


@pytest.mark.parametrize("baseline", [math.nan, math.inf])
def test_a_non_finite_baseline_is_no_baseline(baseline):
    c = compare(runs(0.3), "loss", "min", baseline=baseline, top=10)
    assert c.baseline is None
    assert c.rows[0].mark is Mark.NONE


def test_a_zero_baseline_has_deltas_but_no_relative_change():
    delta, relative, mark = judge(0.5, 0.0, "min")
    assert (delta, relative, mark) == (0.5, None, Mark.WORSE)


def test_missing_and_non_finite_metrics_rank_last_and_never_win():
    c = compare(runs(math.nan, None, 0.4, math.inf, -math.inf), "loss", "min", 0.5, top=10)
    assert [r.candidate.run_id for r in c.rows] == ["r2", "r0", "r1", "r3", "r4"]
    assert c.winner.candidate.run_id == "r2"
    unranked = c.rows[1:]
    assert [r.rank for r in unranked] == [None] * 4
    assert all(r.value is None and r.mark is Mark.NONE and r.delta is None for r in unranked)
    assert math.isnan(unranked[0].logged) and unranked[1].logged is None
    assert unranked[2].logged == math.inf


def test_no_winner_when_no_candidate_logged_the_metric():
    c = compare(runs(None, math.nan), "loss", "min", 0.5, top=10)
    assert c.winner is None
    assert len(c.rows) == 2


def test_no_candidates_at_all():
    c = compare([], "loss", "min", 0.5, top=10)
    assert (c.rows, c.top, c.rest, c.winner) == ((), (), None, None)


def test_top_n_and_a_summary_of_the_rest():
    c = compare(runs(*[0.1 * n for n in range(1, 11)], None), "loss", "min", 0.45, top=3)
    assert [r.rank for r in c.top] == [1, 2, 3]
    rest = c.rest
    assert (rest.count, rest.missing, rest.better) == (8, 1, 1)  # 0.4 beats 0.45
    assert rest.best == pytest.approx(0.4)
    assert rest.worst == pytest.approx(1.0)
    assert rest.median == pytest.approx(0.7)
    fewer = c.shown(1)
    assert len(fewer.top) == 1 and fewer.rest.count == 10 and fewer.rows == c.rows


def test_an_unknown_mode_is_refused():
    with pytest.raises(ValueError, match="mode"):
        compare(runs(0.1), "loss", "lowest", None, top=1)
