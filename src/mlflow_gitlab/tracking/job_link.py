"""The CI job link of a run: tag `gitlab.CI_JOB_ID` sent only where GitLab can resolve it.

GitLab looks the tag's value up as a job of its own instance (`Ci::Build.find_by_id` in
`app/services/ml/experiment_tracking/handle_candidate_gitlab_metadata_service.rb`, called
from `add_tags` in `candidate_repository.rb`), any project of it; an id it has no job for
raises, and `runs/create` answers 500 after it has made the run. A job id names a job only
on the GitLab that ran it: tracking to another GitLab, the link is left out (the job's page
stays in tag `gitlab.CI_JOB_URL`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from urllib.parse import urlsplit

from mlflow_gitlab import tags as t
from mlflow_gitlab.context.model import CIContext
from mlflow_gitlab.errors import ConfigError
from mlflow_gitlab.redaction import strip_url_credentials

log = logging.getLogger(__name__)


def _host(api_url: str | None) -> str | None:
    """The host name of a GitLab URL: what tells two instances apart (scheme, port and
    relative root may differ between what the runner and the job's variables use)."""
    try:
        return (urlsplit(api_url).hostname or None) if api_url else None
    except ValueError:  # malformed: checked (and refused) where it is used
        return None


def foreign_tracking(context: CIContext, tracking_api_url: str | None) -> bool:
    """Whether a GitLab tracking server is not the GitLab this job ran on (another host)."""
    ours, theirs = _host(context.api_url or context.server_url), _host(tracking_api_url)
    return ours is not None and theirs is not None and ours != theirs


def linkable(tags: Mapping[str, str], context: CIContext, tracking_api_url: str | None,
             *, quiet: bool = False) -> dict[str, str]:
    """`tags` without the job link when the tracking server is another GitLab than the job's
    (noted in the log unless `quiet`)."""
    if t.JOB_ID not in tags or not foreign_tracking(context, tracking_api_url):
        return dict(tags)
    if not quiet:
        log.info("run not linked to job %s: the job ran on %s, the run is tracked on another "
                 "GitLab (%s); the job's page is in tag %s", tags[t.JOB_ID],
                 context.server_url or context.api_url,
                 strip_url_credentials(tracking_api_url or ""), t.JOB_URL)
    return {k: v for k, v in tags.items() if k != t.JOB_ID}


def unknown_job(job_id: str, where: str) -> ConfigError:
    """The error for a job id GitLab refused to link (its 500 after making the run)."""
    return ConfigError(
        f"{where} has no CI job {job_id} to link the run to (CI_JOB_ID): it answered "
        "POST runs/create with 500; the run it made without tags was deleted",
        hint="CI_JOB_ID must be a job of the GitLab you track to; unset CI_JOB_ID outside "
             "its CI")
