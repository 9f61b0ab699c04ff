"""One project's REST API: a retrying session, and GitLab's refusals as errors to act on."""

from __future__ import annotations

from urllib.parse import quote

import requests

from mlflow_gitlab.errors import ConfigError, GitLabAPIError
from mlflow_gitlab.gitlab_api.session import NETWORK_ERRORS, GitLabSession
from mlflow_gitlab.http import gitlab_message, server_of, short_url
from mlflow_gitlab.http.redirects import origin
from mlflow_gitlab.http.retry import Retrier, RetryPolicy
from mlflow_gitlab.settings import GitLabSettings


class GitLabClient:
    """One project's REST API through a retrying, authenticated session."""

    def __init__(self, settings: GitLabSettings, retrier: Retrier | None = None) -> None:
        self.settings = settings
        self.retrier = retrier or Retrier(
            RetryPolicy(settings.retry_attempts, settings.retry_seconds),
            transient=NETWORK_ERRORS)
        self.session = GitLabSession(settings, self.retrier)
        self.project_url = f"{settings.api_url}/projects/{quote(settings.project, safe='')}"

    def check(self, response: requests.Response, what: str) -> requests.Response:
        """`response` if it succeeded, else a one-line error saying what to fix.

        Args:
            response: an answer from GitLab.
            what: the action, completing "cannot ..." (`upload model.pt to pkg/1.0`).

        Raises:
            ConfigError: 401/403 or an unknown project: the token or the settings are wrong;
                the message names the token's variable, never its value.
            GitLabAPIError: any other failure, with GitLab's message.
        """
        if response.ok:
            return response
        status, message = response.status_code, gitlab_message(response)
        variable = self.settings.token_variable
        moved = _left_origin(response)
        if status in (401, 403) and moved:
            raise ConfigError(
                f"GitLab redirected {response.request.method} {short_url(moved)} to "
                f"{server_of(response.url)}, where the token in {variable} is not sent "
                f"({status}); cannot {what}",
                hint="point MLFLOW_GITLAB_URL at the address GitLab answers on itself")
        if status == 401:
            raise ConfigError(f"GitLab rejected the token in {variable} (401); cannot {what}",
                              hint="check that the token is valid and not expired")
        if status == 403:
            raise ConfigError(
                f"the token in {variable} may not {what} (403: {message})",
                hint="it needs the Developer role and the `api` scope; a CI job token acts "
                     "with the rights of the user who started the pipeline")
        if status == 404 and "Project" in message:
            raise ConfigError(
                f"GitLab project {self.settings.project!r} was not found with the token in "
                f"{variable}", hint="check MLFLOW_GITLAB_PROJECT / CI_PROJECT_ID and that the "
                                    "token's user is a member of the project")
        detail = message if message.startswith(str(status)) else f"{status} {message}"
        raise GitLabAPIError(f"cannot {what}: {detail}")


def connect(settings: GitLabSettings) -> GitLabClient:
    """A client for `settings`' project; nothing is sent yet."""
    return GitLabClient(settings)


def bearer_client(settings: GitLabSettings) -> GitLabClient:
    """A client sending its token as `Authorization: Bearer`, as GitLab's MLflow and
    `ml_models` file routes want it."""
    client = connect(settings)
    for header in ("PRIVATE-TOKEN", "JOB-TOKEN"):
        client.session.headers.pop(header, None)
    client.session.headers["Authorization"] = f"Bearer {settings.token}"
    return client


def _left_origin(response: requests.Response) -> str | None:
    """The first URL of a redirect chain that left its origin (so lost its token), if any."""
    chain = [r.url for r in response.history] + [response.url]
    first = chain[0]
    return first if any(origin(url) != origin(first) for url in chain[1:]) else None
