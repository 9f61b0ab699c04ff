"""The merge request a branch pipeline's commit was merged by, whose `model::` label counts.

A default-branch pipeline after a merge has no `CI_MERGE_REQUEST_LABELS`; GitLab lists the
MRs a commit belongs to with `GET /projects/:id/repository/commits/:sha/merge_requests`
(`lib/api/commits.rb`: `MergeRequestsFinder` by commit SHA, which matches an MR's own
commits, its merge commit and its squash commit; newest first; it needs a Reporter, and
takes a job token where the route allows it, `job_token_allowed`, in recent GitLab). Of
those, the merged one into this branch counts, the one whose merge (or squash) commit this
is first.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mlflow_gitlab.context.model import CIContext
from mlflow_gitlab.errors import MlflowGitlabError
from mlflow_gitlab.settings import gitlab_settings

if TYPE_CHECKING:
    import requests

    from mlflow_gitlab.gitlab_api import GitLabClient

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MergedRequest:
    iid: int
    labels: tuple[str, ...]

    @property
    def reference(self) -> str:
        return f"!{self.iid}"


def merged_request(context: CIContext, env: Mapping[str, str]) -> MergedRequest | None:
    """The MR that merged this pipeline's commit into its branch, or None (also when
    GitLab cannot be asked: a warning then says the labels do not apply)."""
    sha, branch = context.commit.sha, context.commit.branch
    if not context.in_ci or context.merge_request is not None or not sha or not branch:
        return None
    from mlflow_gitlab.gitlab_api import ProjectAPI, connect

    try:
        settings = gitlab_settings(env, url=context.api_url or None,
                                   project=env.get("CI_PROJECT_ID") or None)
        assert settings is not None  # required: a ConfigError instead of None
        client = connect(settings)
        listed = ProjectAPI(client).commit_merge_requests(sha, {404: _unknown_commit(client, sha)})
    except MlflowGitlabError as exc:
        log.warning("%s; the model:: label of the merged merge request does not apply",
                    str(exc).splitlines()[0])
        return None
    merged = [mr for mr in listed
              if mr.get("state") == "merged" and mr.get("target_branch") == branch]
    merged.sort(key=lambda mr: sha not in (mr.get("merge_commit_sha"),
                                           mr.get("squash_commit_sha")))
    if not merged:
        return None
    mr = merged[0]
    return MergedRequest(int(mr["iid"]), tuple(str(x) for x in mr.get("labels") or ()))


def _unknown_commit(client: GitLabClient, sha: str
                    ) -> Callable[[requests.Response, str], list]:
    """A 404 naming the commit: GitLab has not got it (pushed elsewhere), so no MR has."""
    def refused(response: requests.Response, what: str) -> list:
        if "Commit" not in response.text:
            client.check(response, what)
        log.info("GitLab does not know commit %s: no merged merge request", sha[:8])
        return []
    return refused
