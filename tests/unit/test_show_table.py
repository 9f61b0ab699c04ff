"""The views' tables: aligned, cut to a width (flexible columns first, then optional ones
left out), values and times formatted alike."""

from __future__ import annotations

import sys

from mlflow_gitlab.show.table import Column, iso, number, render, terminal_width, when


def table():
    return [Column("#", ["1", "2"], right=True),
            Column("RUN", ["a-rather-long-run-name", "short"], min_width=6),
            Column("loss", ["0.1", "0.25"], right=True),
            Column("f1", ["0.9", "0.8"], right=True, optional=True),
            Column("JOB", ["train 1/2 #5001", "train 2/2 #5002"], min_width=9)]


def test_without_a_width_nothing_is_cut():
    lines, left_out = render(table(), None)
    assert lines == ["#  RUN                     loss   f1  JOB",
                     "1  a-rather-long-run-name   0.1  0.9  train 1/2 #5001",
                     "2  short                   0.25  0.8  train 2/2 #5002"]
    assert left_out == []


def test_flexible_columns_are_cut_first_the_widest_first():
    lines, left_out = render(table(), 40)
    assert lines == ["#  RUN          loss   f1  JOB",
                     "1  a-rather-l…   0.1  0.9  train 1/2 #5…",
                     "2  short        0.25  0.8  train 2/2 #5…"]
    assert max(map(len, lines)) == 40 and left_out == []


def test_then_optional_columns_are_left_out():
    lines, left_out = render(table(), 30)
    assert left_out == ["f1"]
    assert lines == ["#  RUN       loss  JOB",
                     "1  a-rathe…   0.1  train 1/2 …",
                     "2  short     0.25  train 2/2 …"]


def test_a_table_that_cannot_fit_is_printed_whole_at_its_minimum():
    lines, left_out = render(table(), 5)
    assert left_out == ["f1"]
    assert lines[1] == "1  a-rat…   0.1  train 1/…"  # RUN and JOB at their min_width


def test_values_and_times():
    assert [number(v) for v in (None, 0.1, 1 / 3, 12345678.0, float("nan"), float("-inf"))] \
        == ["-", "0.1", "0.333333", "1.23457e+07", "nan", "-inf"]
    assert when(0) == "-" and when(1_765_000_000) == "2025-12-06 05:46"
    assert iso(1_765_000_000) == "2025-12-06T05:46:40Z" and iso(None) is None


def test_width_from_columns_when_not_a_terminal(monkeypatch):
    monkeypatch.setattr(sys.stdout, "isatty", lambda: False, raising=False)
    assert terminal_width({"COLUMNS": "72"}) == 72
    assert terminal_width({"COLUMNS": "wide"}) is None
    assert terminal_width({}) is None
