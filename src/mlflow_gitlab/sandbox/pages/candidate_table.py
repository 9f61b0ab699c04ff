"""The runs table of an experiment page: its columns, the server-side sort, parent/child groups.

Columns are the run's own fields, its CI links, then one per param and one per metric
(the latest value), as GitLab's table has (`app/helpers/projects/ml/experiments_helper.rb`).
A run whose `mlflow.parentRunId` names a run of the table is shown under it.
"""

from __future__ import annotations

import math
import sqlite3
import uuid
from dataclasses import dataclass, field
from typing import Any

from mlflow_gitlab.sandbox.backend.candidates import RunData
from mlflow_gitlab.sandbox.backend.ci_links import CiLink

PARENT_TAG = "mlflow.parentRunId"
DEFAULT_SORT = "created_at"
FIXED = (("name", "Name"), ("status", "Status"), ("created_at", "Created"), ("user", "User"),
         ("job", "CI job"), ("pipeline", "Pipeline"), ("merge_request", "Merge request"))


@dataclass
class Row:
    """One run of the table, with the runs grouped under it."""

    candidate: sqlite3.Row
    params: dict[str, str]
    metrics: dict[str, float | None]
    tags: dict[str, str]
    ci: CiLink
    depth: int = 0
    children: list[Row] = field(default_factory=list)


@dataclass(frozen=True)
class Column:
    """A column: `key` is its `?sort=` value (`params.<name>`, `metrics.<name>` for data)."""

    key: str
    label: str
    kind: str = "fixed"  # fixed | param | metric
    name: str = ""


def build_rows(candidates: list[sqlite3.Row], data: dict[int, RunData],
               links: dict[int, CiLink]) -> list[Row]:
    """A `Row` per candidate, in the order given."""
    return [Row(c, {p["key"]: p["value"] for p in data[c["id"]].params},
                {m["key"]: m["value"] for m in data[c["id"]].metrics},
                {t["key"]: t["value"] for t in data[c["id"]].tags},
                links.get(c["id"], CiLink())) for c in candidates]


def columns(rows: list[Row]) -> list[Column]:
    """The fixed columns, then every param and every metric logged by a run, by name."""
    params = sorted({key for row in rows for key in row.params})
    metrics = sorted({key for row in rows for key in row.metrics})
    return [*(Column(key, label) for key, label in FIXED),
            *(Column(f"params.{k}", k, "param", k) for k in params),
            *(Column(f"metrics.{k}", k, "metric", k) for k in metrics)]


def sort_value(row: Row, key: str) -> Any:
    """The value `row` is sorted by in column `key`; None when it has none."""
    c, ci = row.candidate, row.ci
    values: dict[str, Any] = {
        "name": c["name"], "status": c["status"], "created_at": c["created_at"],
        "user": ci.user["username"] if ci.user is not None else None,
        "job": ci.job["name"] if ci.job is not None else None,
        "pipeline": ci.pipeline["id"] if ci.pipeline is not None else None,
        "merge_request": ci.merge_request["iid"] if ci.merge_request is not None else None}
    if key in values:
        return _typed(values[key])
    kind, _, name = key.partition(".")
    if kind == "params":
        return _typed(row.params.get(name))
    if kind == "metrics":
        return _typed(row.metrics.get(name))
    return None


def _typed(value: Any) -> tuple[int, Any] | None:
    """Numbers (numeric strings too) before text; NaN and missing values are None."""
    if value is None:
        return None
    if isinstance(value, (int, float)):
        return None if isinstance(value, float) and math.isnan(value) else (0, float(value))
    try:
        number = float(value)
    except ValueError:
        return (1, str(value).lower())
    return None if math.isnan(number) else (0, number)


def arrange(rows: list[Row], sort: str, descending: bool) -> list[Row]:
    """The rows grouped under their parents, each level sorted; flattened, with depths.

    Missing values go last either way; a parent without a value sorts by its best child.
    """
    by_eid = {row.candidate["eid"]: row for row in rows}
    top: list[Row] = []
    for row in rows:
        parent = by_eid.get(_parent_eid(row) or "")
        if parent is not None and parent is not row and not _descends(parent, row, by_eid):
            parent.children.append(row)
        else:
            top.append(row)
    flat: list[Row] = []
    _place(top, sort, descending, 0, flat)
    return flat


def _parent_eid(row: Row) -> str | None:
    """The parent's run id as the sandbox stores ids (any spelling of the UUID)."""
    value = row.tags.get(PARENT_TAG)
    try:
        return str(uuid.UUID(value)) if value else None
    except ValueError:
        return None


def _descends(row: Row, ancestor: Row, by_eid: dict[str, Row]) -> bool:
    """Whether `ancestor` is above `row` through parent tags (a cycle guard)."""
    seen: set[str] = set()
    current: Row | None = row
    while current is not None and current.candidate["eid"] not in seen:
        seen.add(current.candidate["eid"])
        if current is ancestor:
            return True
        current = by_eid.get(_parent_eid(current) or "")
    return False


def _group_value(row: Row, sort: str, descending: bool) -> Any:
    own = sort_value(row, sort)
    if own is not None or not row.children:
        return own
    values = [v for v in (_group_value(c, sort, descending) for c in row.children)
              if v is not None]
    if not values:
        return None
    return max(values) if descending else min(values)


def _place(rows: list[Row], sort: str, descending: bool, depth: int, flat: list[Row]) -> None:
    keyed = [(_group_value(row, sort, descending), row) for row in rows]
    present = [(value, row) for value, row in keyed if value is not None]
    missing = [row for value, row in keyed if value is None]
    present.sort(key=lambda pair: (pair[0], pair[1].candidate["id"]), reverse=descending)
    for row in [row for _, row in present] + missing:
        row.depth = depth
        flat.append(row)
        _place(row.children, sort, descending, depth + 1, flat)
