"""`metrics.txt` for GitLab's metrics report (`artifacts:reports:metrics`,
`doc/ci/testing/metrics_reports.md` in GitLab): the winner's metrics, one `name value`
line each, in OpenMetrics text form."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from pathlib import Path

from mlflow_gitlab.output.file import write_text

_NOT_NAME = re.compile(r"[^A-Za-z0-9_:]")


def metric_name(key: str) -> str:
    """An MLflow metric key as an OpenMetrics name: `val/loss` -> `val_loss`, `1st` -> `_1st`."""
    name = _NOT_NAME.sub("_", key)
    return name if name and not name[0].isdigit() else f"_{name}"


def metrics_text(metrics: Mapping[str, float]) -> str:
    """`name value` lines for the finite `metrics`, sorted by name.

    GitLab's MR widget compares values as strings, so each is written in Python's shortest
    round-trip form (`0.1`, not `0.1000000000000000055`). Keys that map to the same name
    keep the first, in key order.
    """
    lines: dict[str, str] = {}
    for key in sorted(metrics):
        value = float(metrics[key])
        if math.isfinite(value):
            lines.setdefault(metric_name(key), repr(value))
    return "".join(f"{name} {value}\n" for name, value in sorted(lines.items()))


def write_metrics(path: Path, metrics: Mapping[str, float]) -> None:
    """Write `metrics_text(metrics)` to `path` (empty when there is nothing to report, so
    the job's `artifacts:reports` still finds its file)."""
    write_text(path, metrics_text(metrics), "metrics file", "--metrics-file")
