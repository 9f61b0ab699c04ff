"""The columns of `mlflow-gitlab runs`: the default set, or the ones `--columns` names.

Column names follow MLflow's search syntax for values (`metrics.loss`, `params.lr`,
`tags.gitlab.CI_JOB_NAME`) next to the fixed ones (`name`, `status`, ...).
"""

from __future__ import annotations

from collections.abc import Callable

from mlflow_gitlab.errors import ConfigError
from mlflow_gitlab.show.runs import PipelineRuns, RunRow
from mlflow_gitlab.show.table import Column, number, when

FIXED: dict[str, tuple[str, Callable[[RunRow], str]]] = {
    "rank": ("#", lambda r: str(r.rank) if r.rank else "-"),
    "name": ("RUN", lambda r: r.name),
    "status": ("STATUS", lambda r: r.status),
    "id": ("RUN ID", lambda r: r.run_id),
    "started": ("STARTED", lambda r: when(r.start_time / 1000)),
    "job": ("JOB", lambda r: _job(r)),
    "job_url": ("JOB URL", lambda r: r.job_url or "-"),
    "run_url": ("RUN URL", lambda r: r.run_url or "-"),
}
PREFIXES = ("metrics.", "params.", "tags.")
MIN_WIDTH = {"name": 12, "job": 10, "id": 9, "job_url": 20, "run_url": 20}


def parse_columns(text: str) -> list[str]:
    """`--columns name,metrics.loss,params.lr`: the names, checked.

    Raises:
        ConfigError: an empty list, or a name that is not a column.
    """
    names = [part.strip() for part in text.split(",") if part.strip()]
    if not names:
        raise ConfigError("--columns names no column", hint=_COLUMNS_HINT)
    for name in names:
        known = name in FIXED or name == "params" or (
            name.startswith(PREFIXES) and name.split(".", 1)[1])
        if not known:
            raise ConfigError(f"--columns: unknown column {name!r}", hint=_COLUMNS_HINT)
    return names


def default_columns(view: PipelineRuns) -> list[Column]:
    """Rank (with --metric), run name, status, --metric, the other metrics (left out first
    on a narrow terminal), the params that differ between runs, the job, the run id."""
    names = ["rank", "name", "status"] if view.metric else ["name", "status"]
    if view.metric:
        names.append(f"metrics.{view.metric}")
    columns = [_column(view, n) for n in names]
    others = sorted({k for r in view.rows for k in r.metrics} - {view.metric})
    for key in others:
        column = _column(view, f"metrics.{key}")
        column.optional = True
        columns.append(column)
    columns += [_column(view, n) for n in ("params", "job", "id")]
    return columns


def chosen_columns(view: PipelineRuns, names: list[str]) -> list[Column]:
    return [_column(view, name) for name in names]


def _column(view: PipelineRuns, name: str) -> Column:
    rows = view.rows
    if name in FIXED:
        header, cell = FIXED[name]
        return Column(header, [cell(r) for r in rows], min_width=MIN_WIDTH.get(name),
                      right=name == "rank")
    if name == "params":
        return Column("PARAMS", _params_summary(rows), min_width=10)
    kind, key = name.split(".", 1)
    if kind == "metrics":
        return Column(key, [number(r.metrics.get(key)) for r in rows], right=True)
    values = [(r.params if kind == "params" else r.tags).get(key) or "-" for r in rows]
    return Column(key, values, min_width=8)


def _params_summary(rows: list[RunRow]) -> list[str]:
    """`k=v k=v`: the params whose values differ between the runs (all of one run's)."""
    keys = sorted({k for r in rows for k in r.params})
    if len(rows) > 1:
        keys = [k for k in keys if len({r.params.get(k) for r in rows}) > 1]
    return [" ".join(f"{k}={r.params[k]}" for k in keys if k in r.params) or "-" for r in rows]


def _job(row: RunRow) -> str:
    if row.job_id is None:
        return "-"
    return f"{row.job_name} #{row.job_id}" if row.job_name else f"#{row.job_id}"


_COLUMNS_HINT = ("columns: " + ", ".join([*FIXED, "params"]) +
                 ", metrics.KEY, params.KEY, tags.KEY (comma-separated)")
