"""One merge-request note per report, updated in place by later pipelines.

The note is found again by its hidden marker *and* its author, the token's user: a note by
someone else that quotes the marker is never touched. Writing notes needs an access token
with the `api` scope; GitLab refuses the CI job token (`doc/ci/jobs/ci_job_token.md`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, NoReturn

import requests

from mlflow_gitlab.context import CIContext
from mlflow_gitlab.errors import NotesUnavailable
from mlflow_gitlab.gitlab_api import GitLabClient, ProjectAPI, gitlab_message, short_url
from mlflow_gitlab.settings import GitLabSettings
from mlflow_gitlab.tracking.create_once import create_once

log = logging.getLogger(__name__)

HOW_TO_ENABLE = ("to post the report on the merge request, add a CI/CD variable "
                 "MLFLOW_GITLAB_TOKEN holding a project access token with the `api` scope "
                 "(Developer role); make it masked but not protected, since protected "
                 "variables do not reach merge request pipelines")


@dataclass(frozen=True)
class NoteResult:
    """The note a report was posted as."""

    action: str  # "created" or "updated"
    note_id: int
    url: str | None  # the note in the merge request's page, when the MR's URL is known


def why_no_note(context: CIContext, settings: GitLabSettings | None) -> str | None:
    """Why this job cannot post a note at all (None: it can try).

    Checked before any call, so a job without the means says so instead of failing.
    """
    mr = context.merge_request
    if mr is None:
        return "this is not a merge request pipeline"
    if mr.from_fork:
        return ("this is a fork's merge request pipeline, which gets none of the parent "
                "project's tokens")
    if settings is None:
        return "no GitLab is configured (MLFLOW_GITLAB_URL)"
    if settings.job_token:
        return "only CI_JOB_TOKEN is available, and GitLab does not let it write notes"
    return None


def upsert_note(client: GitLabClient, mr_iid: int, body: str, marker: str,
                mr_url: str | None = None) -> NoteResult:
    """Update this report's note on merge request `mr_iid`, or create it.

    The token's user's notes holding `marker` are looked up (oldest first); the oldest is
    updated and any others (left by a concurrent job) are deleted. A create that may have
    worked is looked up the same way before it is sent again.

    Raises:
        NotesUnavailable: GitLab refuses the token (401/403: no `api` scope, or no access).
        GitLabAPIError: any other failure.
    """
    api = ProjectAPI(client)
    me = int(api.current_user(REFUSED)["id"])

    def ours() -> list[dict[str, Any]]:
        return [note for note in api.notes(mr_iid, REFUSED)
                if not note.get("system") and marker in (note.get("body") or "")
                and (note.get("author") or {}).get("id") == me]

    found = ours()
    if found:
        note = api.update_note(mr_iid, found[0]["id"], body, REFUSED)
        for copy in found[1:]:
            log.info("deleting note %s, a copy of this report's note", copy["id"])
            # 404: the answer to an earlier attempt was lost, the note is gone already
            api.delete_note(mr_iid, copy["id"], {**REFUSED, 404: lambda response, what: None})
        action = "updated"
    else:
        notes_url = f"{client.project_url}/merge_requests/{mr_iid}/notes"
        note = create_once(client.retrier, f"POST {short_url(notes_url)}",
                           lambda: api.create_note(mr_iid, body, REFUSED),
                           lambda: next(iter(ours()), None))
        action = "created"
    url = f"{mr_url}#note_{note['id']}" if mr_url else None
    return NoteResult(action, int(note["id"]), url)


def _refused(response: requests.Response, what: str) -> NoReturn:
    """401/403: the token cannot write notes here."""
    raise NotesUnavailable(f"GitLab refused to {what} ({response.status_code}: "
                           f"{gitlab_message(response)})", hint=HOW_TO_ENABLE)


REFUSED = {401: _refused, 403: _refused}
