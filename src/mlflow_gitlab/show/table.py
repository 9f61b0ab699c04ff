"""Aligned text tables that fit a width: flexible columns shrink first, optional ones go.

Pure: no I/O. Values are formatted here so that both views print them alike.
"""

from __future__ import annotations

import math
import os
import shutil
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone

ELLIPSIS = "…"
GAP = "  "


@dataclass(eq=False)  # columns are told apart by identity
class Column:
    """One column: its header and cells, and how it may give way to a narrow terminal.

    Attributes:
        min_width: the column may be cut (with `…`) down to this width; None: never cut.
        optional: the column may be left out, the last optional one first.
        right: right-aligned (numbers).
    """

    header: str
    cells: list[str] = field(default_factory=list)
    min_width: int | None = None
    optional: bool = False
    right: bool = False

    @property
    def natural(self) -> int:
        return max([len(self.header), *(len(c) for c in self.cells)])


def fit(columns: Sequence[Column], width: int | None) -> tuple[list[Column], list[int]]:
    """The columns kept and their widths, within `width` characters (None: no limit).

    Cut columns first (the widest first, never below their `min_width` or their header),
    then leave out optional columns from the right. A table that still does not fit is
    returned as it is: the terminal wraps it.
    """
    kept = list(columns)
    while True:
        widths = [c.natural for c in kept]
        if width is None:
            return kept, widths
        excess = sum(widths) + len(GAP) * (len(kept) - 1) - width
        while excess > 0:
            room = [(widths[i] - _floor(c), i) for i, c in enumerate(kept)
                    if c.min_width is not None and widths[i] > _floor(c)]
            if not room:
                break
            _, i = max(room)
            widths[i] -= 1
            excess -= 1
        optional = [i for i, c in enumerate(kept) if c.optional]
        if excess <= 0 or not optional:
            return kept, widths
        del kept[optional[-1]]


def render(columns: Sequence[Column], width: int | None) -> tuple[list[str], list[str]]:
    """The table's lines (header first) and the headers of the columns left out."""
    kept, widths = fit(columns, width)
    left_out = [c.header for c in columns if c not in kept]
    rows = [[c.header for c in kept]]
    rows += [list(cells) for cells in zip(*(c.cells for c in kept), strict=True)]
    lines = []
    for row in rows:
        parts = [_cell(text, w, c.right) for text, w, c in zip(row, widths, kept, strict=True)]
        lines.append(GAP.join(parts).rstrip())
    return lines, left_out


def terminal_width(env: Mapping[str, str] | None = None) -> int | None:
    """The width to fit: the terminal's when stdout is one, else `COLUMNS` when set, else
    None (piped output is never cut)."""
    env = os.environ if env is None else env
    if sys.stdout.isatty():
        return shutil.get_terminal_size().columns
    columns = env.get("COLUMNS", "")
    return int(columns) if columns.isdigit() and int(columns) > 0 else None


def number(value: float | None) -> str:
    """A metric value, short (6 significant digits); `nan`, `inf`; `-` when absent."""
    if value is None:
        return "-"
    if not math.isfinite(value):
        return str(value)
    return f"{value:.6g}"


def when(seconds: float | None) -> str:
    """A time as `YYYY-MM-DD HH:MM` UTC; `-` when unknown."""
    if not seconds:
        return "-"
    return datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%d %H:%M")


def iso(seconds: float | None) -> str | None:
    """A time in ISO 8601 UTC (`2026-12-06T02:10:00Z`), for JSON; None when unknown."""
    if not seconds:
        return None
    stamp = datetime.fromtimestamp(seconds, timezone.utc)
    return stamp.isoformat(timespec="seconds").replace("+00:00", "Z")


def _floor(column: Column) -> int:
    return max(column.min_width or 0, len(column.header))


def _cell(text: str, width: int, right: bool) -> str:
    if len(text) > width:
        text = text[: max(width - 1, 0)] + ELLIPSIS
    return text.rjust(width) if right else text.ljust(width)
