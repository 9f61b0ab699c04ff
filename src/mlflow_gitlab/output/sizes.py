"""Byte counts as people read them in progress and summary lines."""

from __future__ import annotations

_GIB, _MIB, _KIB = 1 << 30, 1 << 20, 1 << 10


def human_size(n: float) -> str:
    """`1536` -> `1.5 KiB`."""
    for unit, size in (("GiB", _GIB), ("MiB", _MIB), ("KiB", _KIB)):
        if abs(n) >= size:
            return f"{n / size:.1f} {unit}"
    return f"{int(n)} B"
