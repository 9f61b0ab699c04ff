"""Runs created exactly once, however often `runs/create` has to be sent.

Each create carries a client-made id (tag `mlflow-gitlab.create-id`); after an attempt that
may have worked, the newest runs are scanned for it (GitLab's run search ignores filters
and orders newest first). GitLab creates the run before it stores its tags and keeps it
when they fail (`Ml::ExperimentTracking::CandidateRepository#create!`, then `add_tags`, in
`app/services/ml/experiment_tracking/candidate_repository.rb`), answering 400 or 500: such a
half-made run (this create's start time and name, no tags) is deleted, so a create that
fails, or is sent again, leaves nothing behind. A half-made run of a create carrying the job
link means GitLab has no such job: that is said at once (see `job_link`), not retried.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import Iterator, Mapping
from itertools import count
from typing import Any

from mlflow_gitlab import tags as t
from mlflow_gitlab.errors import MlflowGitlabError, TrackingRefused
from mlflow_gitlab.tracking.client import JSON, MlflowAPI
from mlflow_gitlab.tracking.job_link import unknown_job

log = logging.getLogger(__name__)
PAGE = 1000  # GitLab caps `max_results` at 1,000
FOUND_WITHIN = 1  # pages of newest runs scanned for a run whose answer was lost


def create_run(api: MlflowAPI, experiment_id: str, run_name: str | None,
               tags: Mapping[str, str], start_time: int) -> JSON:
    """Create a RUNNING run with `tags`; return its Run entity (`{"info", "data"}`).

    Raises:
        TrackingError: the server refused it, kept failing, or answered without a run id;
            no run of this call is left behind where the server still answers.
    """
    mark = uuid.uuid4().hex
    body: dict[str, Any] = {
        "experiment_id": experiment_id, "start_time": start_time,
        "tags": [{"key": k, "value": v} for k, v in {**tags, t.CREATE_ID: mark}.items()]}
    if run_name:
        body["run_name"] = run_name

    def made(answer: JSON) -> JSON:
        api.field(answer, "POST runs/create", "run", "info", "run_id")
        return answer["run"]

    job_id = tags.get(t.JOB_ID)

    def find() -> JSON | None:
        found, half_made = _find(api, experiment_id, mark, run_name, start_time)
        if found is None and half_made and job_id:
            raise unknown_job(job_id, api.where)
        return found

    try:
        return api.create("runs/create", body, find, made)
    except MlflowGitlabError:
        with contextlib.suppress(MlflowGitlabError):
            if _answering(api):
                _find(api, experiment_id, mark, run_name, start_time, keep=False)
        raise


def recent_runs(api: MlflowAPI, experiment_id: str, since_ms: int | None = None,
                pages: int | None = None) -> Iterator[JSON]:
    """Run entities newest first, stopping at the first started before `since_ms` or
    after `pages` pages."""
    token = None
    for number in count(1):
        body: dict[str, Any] = {"experiment_ids": [experiment_id], "max_results": PAGE}
        if token:
            body["page_token"] = token
        page = api.send("POST", "runs/search", body)
        for run in page.get("runs") or []:
            if since_ms is not None and (run.get("info", {}).get("start_time") or 0) < since_ms:
                return
            yield run
        token = page.get("next_page_token")
        if not token or number == pages:
            return


def run_tags(run: JSON) -> dict[str, str]:
    """A Run entity's tags as a dict."""
    return {str(x.get("key")): str(x.get("value"))
            for x in (run.get("data") or {}).get("tags") or []}


def discard_run(api: MlflowAPI, run_id: str) -> None:
    """Delete a run; where GitLab has no `runs/delete` (before 17.5), mark it KILLED."""
    try:
        api.send("POST", "runs/delete", {"run_id": run_id})
    except TrackingRefused as exc:
        if exc.error_code == "RESOURCE_DOES_NOT_EXIST":
            return  # deleted already (an earlier attempt's answer was lost)
        api.send("POST", "runs/update", {"run_id": run_id, "status": "KILLED"})


def _find(api: MlflowAPI, experiment_id: str, mark: str, run_name: str | None,
          start_time: int, *, keep: bool = True) -> tuple[JSON | None, int]:
    """The run this create made (None when it made none, or with `keep` False), and how
    many half-made runs (made, tags refused) were deleted on the way."""
    found, half_made_runs = None, 0
    for run in recent_runs(api, experiment_id, pages=FOUND_WITHIN):
        info, tags = run.get("info") or {}, run_tags(run)
        ours = tags.get(t.CREATE_ID) == mark
        half_made = (not tags and info.get("start_time") == start_time
                     and (run_name is None or info.get("run_name") == run_name))
        if ours and keep:
            found = run
        elif ours or half_made:
            half_made_runs += 0 if ours else 1
            log.info("deleting run %s, made by a failed attempt to create this run",
                     info.get("run_id"))
            discard_run(api, str(info.get("run_id")))
    return found, half_made_runs


def _answering(api: MlflowAPI) -> bool:
    """Whether the server answers at all (a cleanup is then worth its requests)."""
    try:
        api.upstream.once("GET", api.upstream.mlflow_url("experiments/get"),
                          params={"experiment_id": "0"}).close()
    except OSError:
        return False
    return True
