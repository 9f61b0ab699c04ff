"""A Mermaid `xychart-beta` bar chart of the metric across candidates (GitLab renders
Mermaid code blocks in notes), with the baseline as a line."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from mlflow_gitlab.report.compare import Scored

MAX_BARS = 30  # more bars than this are unreadable in a note's width


def mermaid_chart(rows: Sequence[Scored], metric: str, mode: str,
                  baseline: float | None) -> str | None:
    """The chart's Mermaid source for the ranked `rows` (labelled `#rank`, as in the table),
    or None when fewer than one row has a value."""
    ranked = [r for r in rows if r.value is not None][:MAX_BARS]
    if not ranked:
        return None
    direction = "lower is better" if mode == "min" else "higher is better"
    lines = [
        "xychart-beta",
        f'    title "{_text(metric)} ({direction})"',
        "    x-axis [" + ", ".join(f'"#{r.rank}"' for r in ranked) + "]",
        f'    y-axis "{_text(metric)}"',
        "    bar [" + ", ".join(plain(r.value) for r in ranked) + "]",
    ]
    if baseline is not None:
        lines.append("    line [" + ", ".join(plain(baseline) for _ in ranked) + "]")
    return "\n".join(lines)


def plain(value: float) -> str:
    """A number in plain decimal notation with 6 significant digits (Mermaid reads no
    exponents): 1.5e-05 -> 0.000015."""
    text = format(Decimal(f"{value:.6g}"), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _text(value: str) -> str:
    """Text safe inside a quoted Mermaid string."""
    return " ".join(value.replace('"', "'").split())[:80]
