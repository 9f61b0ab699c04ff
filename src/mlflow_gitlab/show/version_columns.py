"""The columns of `mlflow-gitlab versions`: version, state, created, source run, metric,
pipeline, job."""

from __future__ import annotations

from mlflow_gitlab import tags as t
from mlflow_gitlab.release import record as rec
from mlflow_gitlab.show.table import Column, number, when
from mlflow_gitlab.show.versions import ModelVersions, VersionRow


def version_columns(view: ModelVersions) -> list[Column]:
    """The table's columns; the run id and the links are left out first on a narrow
    terminal."""
    rows = view.rows
    columns = [
        Column("VERSION", [r.label for r in rows]),
        Column("STATE", [r.state or "-" for r in rows]),
        Column("CREATED", [when(r.version.created) for r in rows]),
        Column("RUN", [_run_name(r) for r in rows], min_width=12),
    ]
    if view.metric:
        columns.append(Column(view.metric, [number(r.metric) for r in rows], right=True))
    columns += [
        Column("PIPELINE", [_pipeline(r) for r in rows]),
        Column("JOB", [_job(r) for r in rows], min_width=10),
        Column("RUN ID", [r.version.tags.get(rec.SOURCE_RUN) or "-"
                          for r in rows], min_width=8, optional=True),
    ]
    return columns


def _run_name(row: VersionRow) -> str:
    if row.run is None:
        return "-"
    return row.run.name or row.run.tags.get(t.RUN_NAME) or row.run.run_id[:8]


def _pipeline(row: VersionRow) -> str:
    iid, pid = row.origin(t.PIPELINE_IID), row.origin(t.PIPELINE_ID)
    if iid:
        return f"#{iid} ({pid})" if pid else f"#{iid}"
    return pid or "-"


def _job(row: VersionRow) -> str:
    if row.run is None or not row.run.tags.get(t.JOB_ID):
        return "-"
    name = row.run.tags.get(t.JOB_NAME)
    return f"{name} #{row.run.tags[t.JOB_ID]}" if name else f"#{row.run.tags[t.JOB_ID]}"
