"""GitLab's web pages for MLflow objects: a project's experiments and runs (candidates).

GitLab's UI names a run by its candidate iid (`<project>/-/ml/candidates/<iid>`), which the
MLflow API does not return as a field: the run's `artifact_uri` holds it
(`lib/api/entities/ml/mlflow/run_info.rb` in gitlabhq: `.../ml_models/candidate:<iid>/files/`,
or the legacy `.../generic/ml_experiment_<experiment iid>/<candidate iid>/`). The relay and
the sandbox's proxied form is `mlflow-artifacts:/candidate:<iid>`. Pure: no I/O.
"""

from __future__ import annotations

import re
from urllib.parse import unquote, urlsplit

from mlflow_gitlab.context import CIContext
from mlflow_gitlab.context.remote import remote_project
from mlflow_gitlab.settings import TrackingSettings

_CANDIDATE_IID = re.compile(r"candidate:(\d+)|/generic/ml_experiment_\d+/(\d+)/?\Z")


def candidate_iid(artifact_uri: str | None) -> str | None:
    """The run's candidate iid, read from its `artifact_uri` (None when it names none)."""
    match = _CANDIDATE_IID.search(artifact_uri or "")
    return (match[1] or match[2]) if match else None


def experiment_page(project_url: str, experiment_id: str) -> str:
    """The experiment's page (GitLab's experiment ids are the per-project iids its UI uses)."""
    return f"{project_url.rstrip('/')}/-/ml/experiments/{experiment_id}"


def run_page(project_url: str, artifact_uri: str | None) -> str | None:
    """The run's own page, when its candidate iid can be told."""
    iid = candidate_iid(artifact_uri)
    return f"{project_url.rstrip('/')}/-/ml/candidates/{iid}" if iid else None


def project_url_outside_ci(api_url: str, project: str, remote_url: str | None) -> str | None:
    """A project's web URL from its MLflow tracking URI's API URL and project (an id or an
    encoded path), with the git remote's path when the URI holds only the id and the remote
    is on the same host."""
    base = api_url.removesuffix("/").removesuffix("/api/v4")
    path = unquote(project)
    if "/" in path:
        return f"{base}/{path}"
    remote = remote_project(remote_url)
    if remote is not None and remote[0] == urlsplit(base).hostname:
        return f"{base}/{remote[1]}"
    return None


def where_to_see(settings: TrackingSettings, context: CIContext, run_id: str,
                 experiment_id: str, artifact_uri: str | None) -> str | None:
    """The run's page on GitLab; the experiment's page and the run id when the run's
    candidate iid is unknown; None off GitLab or when the project's web URL is unknown.
    The project is the tracking URI's, which need not be the job's."""
    project_url = tracked_project_url(settings, context)
    if project_url is None:
        return None
    return run_page(project_url, artifact_uri) or (
        f"{experiment_page(project_url, experiment_id)} (run {run_id})")


def tracked_project_url(settings: TrackingSettings, context: CIContext) -> str | None:
    """The web URL of the project the tracking URI names (None off GitLab, or unknown)."""
    if settings.gitlab_api_url is None or settings.project is None:
        return None
    tracked = unquote(settings.project)
    own = context.project.url and tracked in (str(context.project.id), context.project.path)
    # In a job the remote is the job's project, not necessarily the tracked one.
    remote = None if context.in_ci else context.commit.remote_url
    return context.project.url if own else project_url_outside_ci(
        settings.gitlab_api_url, settings.project, remote)
