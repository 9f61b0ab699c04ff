"""Notes as GitLab renders them: tables, <sub>, sanitized HTML, xycharts drawn as SVG."""

from __future__ import annotations

from mlflow_gitlab.sandbox.pages.markdown import render

CHART = """```mermaid
xychart-beta
    title "loss (lower is better)"
    x-axis ["#1", "#2", "#3"]
    y-axis "loss"
    bar [0.21, 0.24, 0.31]
    line [0.25, 0.25, 0.25]
```
"""


def test_tables_links_and_sub_render():
    html = render("| a | b |\n|--:|---|\n| [x](https://h/x) | `c` |\n\n<sub>small</sub>\n")
    assert "<table>" in html
    assert '<a href="https://h/x"' in html
    assert "<code>c</code>" in html
    assert "<sub>small</sub>" in html


def test_raw_html_is_sanitized():
    html = render('<script>alert(1)</script><img src=x onerror="alert(2)">\n\n**ok**')
    assert "<script" not in html and "onerror" not in html
    assert "<strong>ok</strong>" in html


def test_an_xychart_is_drawn_not_shown_as_code():
    html = render("before\n\n" + CHART + "\nafter\n")
    assert "<pre>" not in html and "xychart-beta" not in html
    assert html.count('class="bar"') == 3
    assert 'class="reference"' in html
    assert "loss (lower is better)" in html


def test_other_mermaid_stays_a_code_block():
    html = render("```mermaid\ngraph TD; A-->B\n```\n")
    assert "<pre>" in html and "graph TD" in html


def test_a_note_cannot_forge_a_chart_placeholder():
    html = render("<p>chart-0000000000000000-0</p>\n\n" + CHART)
    assert html.count("<svg") == 1
