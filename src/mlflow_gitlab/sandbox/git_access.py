"""Who may clone, fetch or push a project's repository over HTTP, and GitLab's refusals.

After `lib/gitlab/auth.rb` (`find_for_git_client`, `abilities_for_scopes`),
`app/controllers/repositories/git_http_client_controller.rb` and `lib/gitlab/git_access.rb`:
HTTP Basic with `gitlab-ci-token` and a running job's token (download only), any username and
a personal or project access token (`api` or `write_repository`: download and push;
`read_repository`: download), or a deploy token's own username and the token. Public projects
are readable anonymously. No or unknown credentials where they are needed: 401 with
`WWW-Authenticate: Basic realm="GitLab"`; a project the caller cannot see: 404; a role or a
scope that does not allow the command: 403 (plain-text bodies, GitLab's messages).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from email.message import Message

from mlflow_gitlab.sandbox import web
from mlflow_gitlab.sandbox.backend import deploy_tokens
from mlflow_gitlab.sandbox.backend.projects import DEVELOPER, GUEST, REPORTER, access_level
from mlflow_gitlab.sandbox.backend.store import Store
from mlflow_gitlab.sandbox.backend.tokens import Principal
from mlflow_gitlab.sandbox.registry_auth import CI_JOB_USER, basic_credentials

CHALLENGE = {"WWW-Authenticate": 'Basic realm="GitLab"'}
ACCESS_DENIED = (  # `render_access_denied`
    "HTTP Basic: Access denied. If a password was provided for Git authentication, the "
    "password was incorrect or you're required to use a token instead of a password. If a "
    "token was provided, it was either incorrect, expired, or improperly scoped. See "
    "http://localhost/help/topics/git/troubleshooting_git.md"
    "#error-on-git-fetch-http-basic-access-denied")
PROJECT_NOT_FOUND = ("The project you were looking for could not be found or you don't have "
                     "permission to view it.")
DOWNLOAD, PUSH = "download_code", "push_code"
_SCOPE_ABILITIES = {"api": {DOWNLOAD, PUSH}, "write_repository": {DOWNLOAD, PUSH},
                    "read_repository": {DOWNLOAD}}
_TOKEN_SCOPES = {"api", "read_api", "read_user", "read_repository", "write_repository",
                 "read_registry", "write_registry"}  # `available_scopes`


@dataclass(frozen=True)
class GitCaller:
    """An authenticated git client: who, and what its credentials allow."""

    principal: Principal
    abilities: frozenset[str]


def plain(status: int, text: str, headers: dict[str, str] | None = None) -> web.ApiError:
    """A refusal as GitLab's git HTTP controllers render it: plain text."""
    return web.ApiError(status, text + "\n", {"Content-Type": "text/plain; charset=utf-8",
                                              **(headers or {})})


def identify(store: Store, headers: Message) -> GitCaller | None:
    """The caller of Basic credentials; None without Basic credentials; 401 for bad ones."""
    credentials = basic_credentials(headers.get("Authorization"))
    if credentials is None:
        return None
    login, password = credentials
    caller = _job_token(store, password) if login == CI_JOB_USER else None
    caller = caller or _access_token(store, password) or _deploy_token(store, login, password)
    if caller is None:
        raise plain(401, ACCESS_DENIED, CHALLENGE)
    return caller


def authorize(store: Store, project: sqlite3.Row | None, caller: GitCaller | None,
              push: bool) -> None:
    """Let the command through, or raise the answer GitLab gives."""
    public = project is not None and project["visibility"] == "public"
    if caller is None:
        if push or not public:  # only a public project's downloads go without credentials
            raise plain(401, ACCESS_DENIED, CHALLENGE)
        return
    if project is None:
        raise plain(404, PROJECT_NOT_FOUND)
    principal = caller.principal
    if principal.token_kind == "deploy":
        level = DEVELOPER if principal.project_id == project["id"] else 0
    else:
        level = access_level(store, project, principal)
    if not public and project["visibility"] != "internal" and level < GUEST:
        raise plain(404, PROJECT_NOT_FOUND)
    if push:
        if PUSH not in caller.abilities:
            raise plain(403, "You are not allowed to upload code.")
        if level < DEVELOPER:
            raise plain(403, "You are not allowed to push code to this project.")
        return
    if DOWNLOAD not in caller.abilities:
        raise plain(403, "You are not allowed to download code.")
    if not public and level < REPORTER:
        raise plain(403, "You are not allowed to download code from this project.")


def _job_token(store: Store, value: str) -> GitCaller | None:
    """`build_access_token_check`: a running job's token, download only."""
    row = store.one("SELECT t.user_id, t.job_id, u.username, j.project_id, j.status "
                    "FROM tokens t JOIN users u ON u.id = t.user_id "
                    "JOIN jobs j ON j.id = t.job_id "
                    "WHERE t.value = ? AND t.kind = 'job' AND t.revoked = 0", value)
    if row is None or row["status"] != "running":
        return None
    principal = Principal(row["user_id"], row["username"], "job", frozenset(),
                          job_id=row["job_id"], project_id=row["project_id"])
    return GitCaller(principal, frozenset({DOWNLOAD}))


def _access_token(store: Store, value: str) -> GitCaller | None:
    """`personal_access_token_check`: any username; the scopes give the abilities."""
    row = store.one("SELECT t.user_id, t.kind, t.scopes, u.username FROM tokens t "
                    "JOIN users u ON u.id = t.user_id WHERE t.value = ? AND t.revoked = 0 "
                    "AND t.kind IN ('personal', 'project')", value)
    if row is None:
        return None
    scopes = frozenset(row["scopes"].split())
    if not scopes & _TOKEN_SCOPES:
        return None
    abilities = frozenset().union(*(_SCOPE_ABILITIES.get(s, set()) for s in scopes))
    return GitCaller(Principal(row["user_id"], row["username"], row["kind"], scopes),
                     abilities)


def _deploy_token(store: Store, login: str, value: str) -> GitCaller | None:
    """`deploy_token_check`: the token with its own username."""
    token = deploy_tokens.find(store, value)
    if token is None or token.username != login:
        return None
    abilities = frozenset().union(*(_SCOPE_ABILITIES.get(s, set()) for s in token.scopes
                                    if s != "api"))
    principal = Principal(0, token.username, "deploy", token.scopes,
                          project_id=token.project_id)
    return GitCaller(principal, abilities)
