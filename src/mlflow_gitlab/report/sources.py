"""Collect a report's inputs from the tracking server and GitLab: the experiment, the merge
request, the candidates and the baseline."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from mlflow_gitlab.context import CIContext
from mlflow_gitlab.errors import MlflowGitlabError, ReportError, UnexpectedAnswer
from mlflow_gitlab.gitlab_api import GitLabClient, ProjectAPI
from mlflow_gitlab.report import baseline as baselines
from mlflow_gitlab.report.gather import RunScan, candidate_rows
from mlflow_gitlab.report.links import Links
from mlflow_gitlab.report.model import Place, ReportData, Row
from mlflow_gitlab.settings import TrackingSettings, experiment_name
from mlflow_gitlab.tracking.run_search import RunSource
from mlflow_gitlab.tracking.runs import Tracker, scan_start_ms

if TYPE_CHECKING:
    from mlflow_gitlab.report.options import ReportOptions

log = logging.getLogger(__name__)


def collect(options: ReportOptions, env: Mapping[str, str], context: CIContext,
            tracking: TrackingSettings, client: GitLabClient | None
            ) -> tuple[ReportData, list[Row]]:
    """The report's subject and places, its candidates and its baseline.

    Raises:
        ReportError: the experiment does not exist.
        MlflowGitlabError: the tracking server or GitLab cannot be read.
    """
    tracker = Tracker(tracking)
    name = experiment_name(options.experiment, env, context)
    experiment_id = tracker.experiment_id(name)
    if experiment_id is None:
        raise ReportError(f"experiment {name!r} does not exist on {tracking.shown_uri}",
                          hint="pass --experiment (or set MLFLOW_EXPERIMENT_NAME) to the "
                               "experiment the training jobs log to")
    source = RunSource(tracking, tracker.api)
    scan = RunScan(source, experiment_id)
    links = Links(tracking, context.project.url, experiment_id)
    mr = context.merge_request
    details = _merge_request(client, mr.iid) if mr is not None else {}
    if options.scope == "merge-request" and mr is not None:
        rows = candidate_rows(scan, links, client, pipeline_id=None, mr_iid=mr.iid,
                              since_ms=scan_start_ms(details.get("created_at")))
    else:
        rows = candidate_rows(scan, links, client, pipeline_id=context.pipeline.id,
                              mr_iid=None, since_ms=scan_start_ms(context.pipeline.created_at))
    if options.baseline_kind == "latest-version":
        from mlflow_gitlab.tracking.registry import Registry

        baseline = baselines.latest_version(Registry(tracker.api), source,
                                            str(options.model), options.metric)
    else:
        target = ((mr.target_branch if mr else None) or details.get("target_branch")
                  or context.project.default_branch or "main")
        baseline = baselines.target_branch(client, scan, links, target, options.metric,
                                           options.mode)
    pipeline = context.pipeline
    data = ReportData(
        subject=options.model or name, scope=options.scope,
        experiment=Place(name, links.experiment()), baseline=baseline,
        pipeline=Place(f"pipeline #{pipeline.iid or pipeline.id}", pipeline.url)
        if pipeline.id is not None else None,
        merge_request=Place(f"!{mr.iid} {details.get('title') or mr.title or ''}".strip(),
                            details.get("web_url") or _mr_url(context))
        if mr is not None else None)
    return data, rows


def _merge_request(client: GitLabClient | None, iid: int) -> dict[str, Any]:
    """The MR's details (a job token may read them), or {} when they cannot be read:
    the report then does with what the CI variables say."""
    if client is None:
        return {}
    try:
        return ProjectAPI(client).merge_request(iid)
    except UnexpectedAnswer:
        raise  # not GitLab answering: every other call would fail too
    except MlflowGitlabError as exc:
        log.warning("merge request details unavailable: %s", exc)
        return {}


def _mr_url(context: CIContext) -> str | None:
    """The MR's page from CI variables alone (`CI_MERGE_REQUEST_PROJECT_URL` is not kept in
    the context, so the job's project, which is the target outside forks)."""
    mr = context.merge_request
    if mr is None or context.project.url is None or mr.from_fork:
        return None
    return f"{context.project.url.rstrip('/')}/-/merge_requests/{mr.iid}"
