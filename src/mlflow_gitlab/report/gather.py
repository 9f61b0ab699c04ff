"""Gather what a report compares: the candidate runs of this pipeline or merge request.

GitLab's run search ignores filters and answers newest first (`lib/api/ml/mlflow/runs.rb`
in GitLab), so runs are read once, newest first, only as far back as the oldest pipeline or
merge request asked about, and filtered client-side by their CI tags.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from mlflow_gitlab import tags as t
from mlflow_gitlab.gitlab_api import GitLabClient
from mlflow_gitlab.packages import package_from_tags
from mlflow_gitlab.report.links import Links
from mlflow_gitlab.report.model import Row
from mlflow_gitlab.tracking.run_search import (
    Candidate,
    RunSource,
    finished_runs,
    pipeline_candidates,
)


def row_from_run(run: Mapping[str, Any], links: Links) -> Row:
    """A report row from a raw `runs/search` Run (GitLab keeps each metric's latest value)."""
    candidate = Candidate.from_json(run)
    tags = candidate.tags
    params = {p["key"]: p["value"] for p in (run.get("data") or {}).get("params") or []}
    return Row(
        run_id=candidate.run_id,
        name=candidate.name or tags.get(t.RUN_NAME) or candidate.run_id[:8],
        start_time=candidate.start_time, params=params, metrics=candidate.metrics,
        run_url=links.run(run), job_url=tags.get(t.JOB_URL), job_name=tags.get(t.JOB_NAME),
        pipeline_url=tags.get(t.PIPELINE_URL),
        pipeline_iid=tags.get(t.PIPELINE_IID) or tags.get(t.PIPELINE_ID),
        package_url=links.package(tags))


class RunScan:
    """One experiment's raw runs, newest first, fetched once and only as far back as asked."""

    def __init__(self, source: RunSource, experiment_id: str) -> None:
        self._pending: Iterator[dict[str, Any]] | None = source.newest_first(experiment_id)
        self._runs: list[dict[str, Any]] = []
        self._oldest: int | None = None  # the earliest positive start time read so far

    def back_to(self, since_ms: int | None) -> list[dict[str, Any]]:
        """Runs newest first, at least down to one started before `since_ms` (None: all)."""
        while self._pending is not None and (
                since_ms is None or self._oldest is None or self._oldest >= since_ms):
            run = next(self._pending, None)
            if run is None:
                self._pending = None
                break
            self._runs.append(run)
            start = int(run["info"].get("start_time") or 0)
            if start > 0:
                self._oldest = start if self._oldest is None else min(self._oldest, start)
        return self._runs


def raw_by_id(runs: Iterable[Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
    """Raw runs by run id (the first, newest copy wins)."""
    found: dict[str, Mapping[str, Any]] = {}
    for run in runs:
        found.setdefault(run["info"]["run_id"], run)
    return found


def merge_request_candidates(runs: Iterable[Mapping[str, Any]], iid: int,
                             since_ms: int | None = None) -> list[Candidate]:
    """The finished runs of merge request `iid`, in any of its pipelines, parent runs
    left out (child pipelines of MR pipelines carry the MR's iid too)."""
    wanted = str(iid)
    return finished_runs(runs, lambda tags: tags.get(t.MERGE_REQUEST_IID) == wanted
                         and tags.get(t.RUN_ROLE) != "pipeline", since_ms)


def candidate_rows(scan: RunScan, links: Links, client: GitLabClient | None, *,
                   pipeline_id: int | None, mr_iid: int | None, since_ms: int | None
                   ) -> list[Row]:
    """The candidates of pipeline `pipeline_id`, or of merge request `mr_iid` when given;
    their package pages are looked up with `client` (one list call per package name)."""
    runs = scan.back_to(since_ms)
    if mr_iid is not None:
        chosen = merge_request_candidates(runs, mr_iid, since_ms)
    elif pipeline_id is not None:
        chosen = pipeline_candidates(runs, pipeline_id, None, since_ms)
    else:
        raise ValueError("a pipeline id or a merge request iid is needed")
    links.load_packages(client, [coordinates[0] for c in chosen
                                 if (coordinates := package_from_tags(c.tags))])
    raw = raw_by_id(runs)
    return [row_from_run(raw[c.run_id], links) for c in chosen]
