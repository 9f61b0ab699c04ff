"""Who may use a project's package registry, and what they get otherwise.

Package managers send HTTP Basic credentials: any username with a personal or project access
token or with a deploy token, `gitlab-ci-token` with a running job's token. Unknown Basic
credentials make an anonymous caller, except a bad job token, which is refused outright.
Refusals follow `authorized_project_find!` and `unauthorized_or!` of
`lib/api/helpers/packages/basic_auth_helpers.rb`: anonymous callers get 401 with a
`WWW-Authenticate` challenge (so pip retries with credentials), others 404 for a project
they cannot see and 403 for what their role or scopes do not allow.
"""

from __future__ import annotations

import base64
import binascii
import sqlite3
from dataclasses import dataclass
from email.message import Message

from mlflow_gitlab.sandbox import web
from mlflow_gitlab.sandbox.backend.deploy_tokens import (
    READ_PACKAGES,
    WRITE_PACKAGES,
    DeployToken,
    find,
)
from mlflow_gitlab.sandbox.backend.projects import DEVELOPER, GUEST, REPORTER, access_level
from mlflow_gitlab.sandbox.backend.store import Store
from mlflow_gitlab.sandbox.backend.tokens import Principal, find_principal

CI_JOB_USER = "gitlab-ci-token"  # `Gitlab::Auth::CI_JOB_USER`
CHALLENGE = {"WWW-Authenticate": 'Basic realm="GitLab Packages Registry"'}
Caller = Principal | DeployToken | None


@dataclass(frozen=True)
class Access:
    """What a caller may do with one project's packages."""

    authenticated: bool
    sees_project: bool  # `read_project`
    reads_packages: bool  # `read_package`
    creates_packages: bool  # `create_package`


def basic_credentials(authorization: str | None) -> tuple[str, str] | None:
    """(username, password) of a Basic `Authorization` header, None without one."""
    scheme, _, value = (authorization or "").partition(" ")
    if scheme.lower() != "basic" or not value.strip():
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    username, _, password = decoded.partition(":")
    return username, password


def identify(store: Store, headers: Message, method: str) -> Caller:
    """The caller a request's credentials name, in GitLab's order (`find_user_from_sources`
    of `lib/gitlab/auth/auth_finders.rb`): a deploy token (`DEPLOY-TOKEN`, or a Basic password,
    whatever the username), an access token (`PRIVATE-TOKEN`, or a Basic password, any
    username), a job token (Basic as `gitlab-ci-token` only). An unknown `PRIVATE-TOKEN` or
    job token is 401; a token without the scope for `method` 403 `insufficient_scope`."""
    credentials = basic_credentials(headers.get("Authorization"))
    password = credentials[1] if credentials else None
    deploy = find(store, headers.get("DEPLOY-TOKEN") or password or "")
    if deploy is not None:
        return deploy
    private = headers.get("PRIVATE-TOKEN")
    principal = find_principal(store, private or password or "", ("personal", "project"))
    if principal is not None:
        if "api" not in principal.scopes and not (
                "read_api" in principal.scopes and method in ("GET", "HEAD")):
            raise web.INSUFFICIENT_SCOPE
        return principal
    if private:
        raise unauthorized()
    if credentials is not None and credentials[0] == CI_JOB_USER and credentials[1]:
        # `find_user_from_job_token_basic_auth`: no password, no job token (anonymous)
        principal = find_principal(store, credentials[1], ("job",))
        if principal is None:
            raise unauthorized()
        return principal
    return None


def access(store: Store, project: sqlite3.Row, caller: Caller) -> Access:
    """The caller's rights on `project`'s package registry."""
    public = project["visibility"] == "public"
    if isinstance(caller, DeployToken):
        own = caller.project_id == project["id"]
        # `write_package_registry` reads too (`Packages::Policies::ProjectPolicy`)
        return Access(True, own or public,
                      (own and bool({READ_PACKAGES, WRITE_PACKAGES} & set(caller.scopes)))
                      or public,
                      own and WRITE_PACKAGES in caller.scopes)
    role = access_level(store, project, caller)
    return Access(caller is not None, public or role >= GUEST, public or role >= REPORTER,
                  role >= DEVELOPER)


def check_read(rights: Access) -> None:
    """`authorized_project_find!(action: :read_package)`."""
    if rights.reads_packages:
        return
    if rights.sees_project:
        raise web.forbidden()  # a Guest sees the project but not its packages
    _unauthorized_or_not_found(rights)


def check_upload(rights: Access) -> None:
    """`authorized_project_find!(action: :read_project)`, then `authorize_upload!`."""
    if not rights.sees_project:
        _unauthorized_or_not_found(rights)
    if not rights.creates_packages:
        if not rights.authenticated:
            raise unauthorized()
        raise web.forbidden()


def unauthorized() -> web.ApiError:
    """401 with the registry's Basic challenge."""
    return web.ApiError(401, {"message": "401 Unauthorized"}, CHALLENGE)


def _unauthorized_or_not_found(rights: Access) -> None:
    if not rights.authenticated:
        raise unauthorized()
    raise web.not_found()
