"""A pipeline's runs with their metrics, best first: what `mlflow-gitlab runs` shows.

GitLab's `runs/search` takes no filter and answers newest first, so the experiment's runs
are paged through (`tracking.run_search`, as `release` does) and the pipeline's picked by
their `gitlab.CI_PIPELINE_ID` tag; in the pipeline's own jobs the paging stops at the first
run older than the pipeline (`CI_PIPELINE_CREATED_AT`). GitLab counts `runs/search`, a
POST, as a write (`lib/api/ml/mlflow/runs.rb`: `check_api_write! unless request.get?`), so
a `read_api` token is refused there.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from mlflow_gitlab import tags as t
from mlflow_gitlab.context import collect_context
from mlflow_gitlab.errors import ConfigError, WriteRefused
from mlflow_gitlab.settings import experiment_name, tracking_settings
from mlflow_gitlab.show.table import iso
from mlflow_gitlab.tracking.run_search import Candidate, RunSource, pipeline_runs, ranked
from mlflow_gitlab.tracking.runs import Tracker, scan_start_ms
from mlflow_gitlab.tracking.web_pages import run_page, tracked_project_url

MODES = ("min", "max")


@dataclass(frozen=True)
class RunRow:
    """One run of the pipeline, as shown."""

    rank: int | None  # 1 for the best by --metric; None without it or without a value
    run_id: str
    name: str
    status: str
    start_time: int  # ms
    end_time: int | None  # ms
    metrics: Mapping[str, float]
    params: Mapping[str, str]
    tags: Mapping[str, str]
    run_url: str | None
    job_url: str | None

    @property
    def job_id(self) -> str | None:
        return self.tags.get(t.JOB_ID)

    @property
    def job_name(self) -> str | None:
        return self.tags.get(t.JOB_NAME)

    def as_json(self) -> dict[str, Any]:
        return {"rank": self.rank, "run_id": self.run_id, "name": self.name,
                "status": self.status, "start_time": iso(self.start_time / 1000),
                "end_time": iso((self.end_time or 0) / 1000), "metrics": dict(self.metrics),
                "params": dict(self.params),
                "job": {"id": _int(self.job_id), "name": self.job_name, "url": self.job_url},
                "run_url": self.run_url}


@dataclass(frozen=True)
class PipelineRuns:
    """The runs of one pipeline in one experiment, in the order shown."""

    experiment: str
    experiment_id: str
    pipeline_id: int
    metric: str | None
    mode: str
    rows: list[RunRow]
    scanned: int  # runs of the experiment read to find them

    def as_json(self) -> dict[str, Any]:
        return {"experiment": self.experiment, "experiment_id": self.experiment_id,
                "pipeline_id": self.pipeline_id, "metric": self.metric, "mode": self.mode,
                "runs": [row.as_json() for row in self.rows]}


def pipeline_view(*, pipeline: int | None, metric: str | None, mode: str,
                  experiment: str | None, tracking_uri: str | None,
                  env: Mapping[str, str] | None = None) -> PipelineRuns:
    """The runs of `pipeline` (default: this job's), best first by `metric` when given,
    else newest first.

    Raises:
        ConfigError: no pipeline to show, a bad --mode, or no such experiment.
        MlflowGitlabError: the tracking server cannot be read.
    """
    env = dict(os.environ if env is None else env)
    if mode not in MODES:
        raise ConfigError(f"--mode {mode!r} is not min or max")
    context = collect_context(env)
    own = pipeline is None or pipeline == context.pipeline.id
    pipeline_id = context.pipeline.id if pipeline is None else pipeline
    if pipeline_id is None:
        raise ConfigError("outside a GitLab pipeline, say which pipeline to show",
                          hint="pass --pipeline ID (the pipeline's id, as in its URL)")
    settings = tracking_settings(env, tracking_uri)
    tracker = Tracker(settings)
    name = experiment_name(experiment, env, context)
    experiment_id = tracker.experiment_id(name)
    if experiment_id is None:
        raise ConfigError(f"experiment {name!r} does not exist on {settings.shown_uri}",
                          hint="pass --experiment (or set MLFLOW_EXPERIMENT_NAME) to the "
                               "experiment the training jobs log to")
    since = scan_start_ms(context.pipeline.created_at) if own else None
    raw: dict[str, Mapping[str, Any]] = {}
    counted = _Counted(RunSource(settings, tracker.api).newest_first(experiment_id), raw,
                       str(pipeline_id))
    try:
        found = pipeline_runs(counted, pipeline_id, since)
    except WriteRefused:
        raise ConfigError(
            f"{settings.shown_uri} refused to search runs with MLFLOW_TRACKING_TOKEN (403: "
            "read-only token?): GitLab's run search is a POST, which read-only tokens may not "
            "send", hint="use an access token with the `api` scope (`read_api` is enough for "
                         "`mlflow-gitlab versions`)") from None
    ordered = ranked(found, metric, mode) if metric else found
    project_url = tracked_project_url(settings, context)
    rows = []
    for candidate in ordered:
        value = candidate.metrics.get(metric) if metric else None
        rank = len(rows) + 1 if metric and _finite(value) else None
        rows.append(_row(candidate, raw[candidate.run_id], rank, project_url))
    return PipelineRuns(name, experiment_id, pipeline_id, metric, mode, rows, counted.count)


def _row(candidate: Candidate, run: Mapping[str, Any], rank: int | None,
         project_url: str | None) -> RunRow:
    tags = candidate.tags
    params = {p["key"]: p["value"] for p in (run.get("data") or {}).get("params") or []}
    job_url = tags.get(t.JOB_URL)
    if job_url is None and project_url and tags.get(t.JOB_ID):
        job_url = f"{project_url.rstrip('/')}/-/jobs/{tags[t.JOB_ID]}"
    end = int(run["info"].get("end_time") or 0) or None
    return RunRow(
        rank=rank, run_id=candidate.run_id,
        name=candidate.name or tags.get(t.RUN_NAME) or candidate.run_id[:8],
        status=candidate.status, start_time=candidate.start_time, end_time=end,
        metrics=candidate.metrics, params=params, tags=tags,
        run_url=run_page(project_url, candidate.artifact_uri) if project_url else None,
        job_url=job_url)


class _Counted:
    """Raw runs passed through and counted; those tagged with `pipeline` are kept by id, for
    what `Candidate` leaves out (params, end time)."""

    def __init__(self, runs: Iterator[dict[str, Any]], keep: dict[str, Mapping[str, Any]],
                 pipeline: str) -> None:
        self.runs, self.keep, self.pipeline, self.count = runs, keep, pipeline, 0

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for run in self.runs:
            self.count += 1
            tags = (run.get("data") or {}).get("tags") or []
            if any(x.get("key") == t.PIPELINE_ID and x.get("value") == self.pipeline
                   for x in tags if isinstance(x, dict)):
                self.keep.setdefault(run["info"]["run_id"], run)
            yield run


def _finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)


def _int(value: str | None) -> int | str | None:
    return int(value) if value is not None and value.isdigit() else value
