"""The baseline a report compares with: the latest model version, or the best run of the
target branch's latest successful pipeline."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from mlflow_gitlab.errors import MlflowGitlabError, UnexpectedAnswer
from mlflow_gitlab.gitlab_api import GitLabClient, ProjectAPI
from mlflow_gitlab.release.record import SOURCE_RUN, recorded_metric
from mlflow_gitlab.report.gather import RunScan, raw_by_id, row_from_run
from mlflow_gitlab.report.links import Links
from mlflow_gitlab.report.model import Baseline
from mlflow_gitlab.tracking.run_search import RunSource, best, pipeline_candidates
from mlflow_gitlab.tracking.runs import scan_start_ms
from mlflow_gitlab.versioning import latest_release

if TYPE_CHECKING:
    from mlflow_gitlab.tracking.registry import Registry

log = logging.getLogger(__name__)
TARGET_PIPELINES = 20  # successful pipelines of the target branch looked at, newest first


def latest_version(registry: Registry, source: RunSource, model: str, metric: str
                   ) -> Baseline:
    """The latest released (not prerelease) version of `model`, with the metric the release
    recorded on it, else its source run's."""
    versions = [v for v in registry.versions(model) if v.semver is not None]
    latest = latest_release(v.semver for v in versions)
    if latest is None:
        return Baseline("latest-version", reason=f"model {model!r} has no released version yet")
    version = next(v for v in versions if v.semver == latest)
    value = recorded_metric(version.tags, metric)
    if value is None and version.tags.get(SOURCE_RUN):
        try:
            value = source.get(version.tags[SOURCE_RUN]).metrics.get(metric)
        except MlflowGitlabError as exc:
            log.warning("cannot read the source run of %s: %s", version.label, exc)
    return Baseline("latest-version", version.label, value, version.web_url or None,
                    reason=None if value is not None
                    else f"{version.label} records no {metric!r}")


def target_branch(client: GitLabClient | None, scan: RunScan, links: Links, target: str,
                  metric: str, mode: str) -> Baseline:
    """The best run (by `metric`) of the newest successful pipeline of branch `target` whose
    job runs logged the metric.

    Reading pipelines needs an access token: the job token cannot.
    """
    kind = "target-branch"
    if client is None or client.settings.job_token:
        return Baseline(kind, reason=f"reading the pipelines of {target!r} needs an access "
                                     "token (set MLFLOW_GITLAB_TOKEN)")
    try:
        pipelines = ProjectAPI(client).pipelines(target, "success", TARGET_PIPELINES)
    except UnexpectedAnswer:
        raise  # not GitLab answering: every other call would fail too
    except MlflowGitlabError as exc:
        log.warning("no target-branch baseline: %s", exc)
        return Baseline(kind, reason=f"the pipelines of {target!r} could not be read")
    if not pipelines:
        return Baseline(kind, reason=f"{target!r} has no successful pipeline yet")
    runs = scan.back_to(min(scan_start_ms(p.get("created_at")) or 0 for p in pipelines))
    for pipeline in pipelines:  # newest first
        found = pipeline_candidates(runs, int(pipeline["id"]), metric,
                                    scan_start_ms(pipeline.get("created_at")))
        if found:
            winner = best(found, metric, mode)
            row = row_from_run(raw_by_id(runs)[winner.run_id], links)
            return Baseline(kind, f"{target} pipeline #{pipeline.get('iid') or pipeline['id']}",
                            winner.metrics[metric], pipeline.get("web_url"), row)
    return Baseline(kind, reason=f"no run of the last {len(pipelines)} successful pipelines of "
                                 f"{target!r} logged {metric!r}")
