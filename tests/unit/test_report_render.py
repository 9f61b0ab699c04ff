"""Rendering the report: the approved snapshot, the marker, team templates, the size limit.

`UPDATE_SNAPSHOTS=1 pytest tests/unit/test_report_render.py` rewrites the snapshot; review
the diff before committing it.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import pytest

from mlflow_gitlab.errors import ReportTemplateError
from mlflow_gitlab.report.chart import mermaid_chart, plain
from mlflow_gitlab.report.compare import compare
from mlflow_gitlab.report.model import Baseline
from mlflow_gitlab.report.render import marker, render
from tests.unit.report_fixture import CANDIDATES, DATA, row

SNAPSHOT = Path(__file__).resolve().parents[1] / "snapshots" / "report.md"


def fixture_report(**changes) -> str:
    data = replace(DATA, **changes)
    comparison = compare(CANDIDATES, "loss", "min", data.baseline.value, top=5)
    return render(data, comparison)


def test_the_fixture_experiment_renders_as_the_approved_snapshot():
    text = fixture_report()
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":
        SNAPSHOT.write_text(text, encoding="utf-8")
    assert text == SNAPSHOT.read_text(encoding="utf-8"), \
        "the report changed: review it, then rerun with UPDATE_SNAPSHOTS=1"


def test_the_marker_comes_first_whatever_the_template(tmp_path):
    template = tmp_path / "bare.md.j2"
    template.write_text("Winner: {{ winner.candidate.name }}")
    comparison = compare(CANDIDATES, "loss", "min", 0.25, top=5)
    text = render(DATA, comparison, template)
    assert text == ("<!-- mlflow-gitlab:report model=demo-model -->\n"
                    "Winner: train [LR=0.01, OPTIMIZER=adam]\n")


def test_the_marker_stays_an_html_comment():
    assert marker("odd--name\n-->x") == "<!-- mlflow-gitlab:report model=odd- -name - ->x -->"


def test_a_team_template_overrides_one_block(tmp_path):
    template = tmp_path / "team.md.j2"
    template.write_text('{% extends "mlflow_gitlab/report.md.j2" %}\n'
                        "{% block footer %}\n\nAsk #ml-platform.\n{% endblock %}\n")
    text = render(DATA, compare(CANDIDATES, "loss", "min", 0.25, top=5), template)
    assert text.endswith("```\n\nAsk #ml-platform.\n")
    assert "**Baseline:** model version [demo-model 1.2.0]" in text


def test_a_template_error_names_the_file_and_line(tmp_path):
    template = tmp_path / "typo.md.j2"
    template.write_text("line one\n{{ winer.name }}\n")
    with pytest.raises(ReportTemplateError, match=r"typo.md.j2, line 2: 'winer' is undefined"):
        render(DATA, compare(CANDIDATES, "loss", "min", 0.25, top=5), template)
    template.write_text("line one\n{% if %}\n")
    with pytest.raises(ReportTemplateError, match=r"typo.md.j2, line 2"):
        render(DATA, compare(CANDIDATES, "loss", "min", 0.25, top=5), template)
    with pytest.raises(ReportTemplateError, match="does not exist"):
        render(DATA, compare(CANDIDATES, "loss", "min", 0.25, top=5), tmp_path / "none.j2")


def test_the_report_shrinks_to_the_limit_by_showing_fewer_rows():
    candidates = [row(n, f"{n / 1000:g}", n / 1000, 0.5) for n in range(1, 301)]
    comparison = compare(candidates, "loss", "min", 0.25, top=300)
    full = render(DATA, comparison)
    assert full.count("| ❌ worse |") + full.count("| ✅ better |") == 299  # one is the same
    text = render(DATA, comparison, limit=40_000)
    assert len(text) <= 40_000
    shown = sum(line.startswith(("| 🏆", "| 1", "| 2", "| 3", "| 4", "| 5", "| 6", "| 7",
                                 "| 8", "| 9")) for line in text.splitlines())
    assert 10 < shown < 300
    assert f"_…and {300 - shown} more candidates: loss from " in text
    assert f"; {249 - min(shown, 249)} better than the baseline" in text


def test_table_cells_cannot_break_the_table():
    evil = replace(CANDIDATES[1], name="a|b <img src=x> [c]",
                   params={**CANDIDATES[1].params, "lr": "x|y\nz"})
    text = render(DATA, compare([evil, CANDIDATES[0]], "loss", "min", 0.25, top=5))
    line = next(s for s in text.splitlines() if s.startswith("| 🏆 1 |"))
    assert "[a\\|b &lt;img src=x&gt; \\[c\\]](" in line
    assert "| x\\|y z |" in line


def test_no_baseline_and_no_candidates_are_said_plainly():
    data = replace(DATA, baseline=Baseline("target-branch",
                                           reason="'main' has no successful pipeline yet"))
    text = render(data, compare([], "loss", "min", None, top=5))
    assert "No finished candidate run was found." in text
    assert "**Baseline:** none: 'main' has no successful pipeline yet." in text
    assert "mermaid" not in text and "| # |" not in text


def test_the_chart_uses_plain_numbers_and_the_baseline_line():
    comparison = compare([row(1, "1", 1.5e-05, 0.5), row(2, "2", 2e-05, 0.5)],
                         "loss", "max", 1.75e-05, top=5)
    assert mermaid_chart(comparison.top, "loss", "max", 1.75e-05) == "\n".join([
        "xychart-beta",
        '    title "loss (higher is better)"',
        '    x-axis ["#1", "#2"]',
        '    y-axis "loss"',
        "    bar [0.00002, 0.000015]",
        "    line [0.0000175, 0.0000175]"])
    assert [plain(v) for v in (3.0, 1234567.0, -0.5)] == ["3", "1234570", "-0.5"]
