"""One merge-request note per report, updated in place by later pipelines.

The note is found again by its hidden marker *and* its author, the token's user: a note by
someone else that quotes the marker is never touched. Writing notes needs an access token
with the `api` scope; GitLab refuses the CI job token (`doc/ci/jobs/ci_job_token.md`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mlflow_gitlab.context import CIContext
from mlflow_gitlab.errors import NotesUnavailable
from mlflow_gitlab.gitlab_api import GitLabClient, gitlab_message, short_url
from mlflow_gitlab.http import read_json
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
    me = _current_user_id(client)
    path = f"/merge_requests/{mr_iid}/notes"

    def ours() -> list[dict[str, Any]]:
        return [note for note in client.pages(path, {"sort": "asc", "order_by": "created_at"},
                                              f"list the notes of merge request !{mr_iid}",
                                              keys=("id",))
                if not note.get("system") and marker in (note.get("body") or "")
                and (note.get("author") or {}).get("id") == me]

    found = ours()
    if found:
        note = _send(client, "PUT", f"{path}/{found[0]['id']}", {"body": body},
                     f"update note {found[0]['id']} of !{mr_iid}")
        for copy in found[1:]:
            log.info("deleting note %s, a copy of this report's note", copy["id"])
            _send(client, "DELETE", f"{path}/{copy['id']}", None, f"delete note {copy['id']}",
                  gone_ok=True)
        action = "updated"
    else:
        note = _create(client, path, body, f"create a note on !{mr_iid}",
                       lambda: next(iter(ours()), None))
        action = "created"
    url = f"{mr_url}#note_{note['id']}" if mr_url else None
    return NoteResult(action, int(note["id"]), url)


def _current_user_id(client: GitLabClient) -> int:
    """The id of the token's user (`GET /user`), the author of the notes it writes."""
    response = client.session.get(f"{client.settings.api_url}/user")
    _refused(response, "read the token's user")
    user = read_json(client.check(response, "read the token's user"), dict, keys=("id",))
    return int(user["id"])


def _send(client: GitLabClient, method: str, path: str, body: dict[str, str] | None,
          what: str, *, gone_ok: bool = False) -> dict[str, Any]:
    """A call that may be repeated (GitLabSession retries it); with `gone_ok`, a 404 (a
    delete whose answer was lost, sent again) is success."""
    response = client.session.request(method, client.project_url + path, json=body)
    if gone_ok and response.status_code == 404:
        return {}
    return _note(client, response, what)


def _create(client: GitLabClient, path: str, body: str, what: str,
            find: Callable[[], dict[str, Any] | None]) -> dict[str, Any]:
    """POST the note once: after an attempt that may have worked, `find` looks for it."""
    url = client.project_url + path
    return create_once(client.retrier, f"POST {short_url(url)}",
                       lambda: client.session.request("POST", url, retry=False,
                                                      json={"body": body}),
                       find, lambda response: _note(client, response, what))


def _note(client: GitLabClient, response: Any, what: str) -> dict[str, Any]:
    """The note GitLab answered, checked."""
    _refused(response, what)
    client.check(response, what)
    return {} if response.request.method == "DELETE" else read_json(response, dict, keys=("id",))


def _refused(response: Any, what: str) -> None:
    """Turn 401/403 into NotesUnavailable: the token cannot write notes here."""
    if response.status_code in (401, 403):
        raise NotesUnavailable(f"GitLab refused to {what} ({response.status_code}: "
                               f"{gitlab_message(response)})", hint=HOW_TO_ENABLE)
