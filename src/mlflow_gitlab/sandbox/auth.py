"""Who is calling, and may they: GitLab's token transports, scopes, roles and outcomes.

Each route belongs to an auth *family* that says which transports it reads (a JOB-TOKEN
header on a route that does not accept job tokens is simply not looked at, as on GitLab) and
what an anonymous caller gets.
"""

from __future__ import annotations

import base64
import enum
import hmac
import sqlite3
from email.message import Message
from urllib.parse import unquote

from mlflow_gitlab.sandbox import web
from mlflow_gitlab.sandbox.backend import deploy_tokens
from mlflow_gitlab.sandbox.backend.projects import GUEST, access_level, find_project
from mlflow_gitlab.sandbox.backend.store import Store
from mlflow_gitlab.sandbox.backend.tokens import Principal, find_principal


class Family(enum.Enum):
    """Auth families: which credentials a route reads, and how it treats anonymous calls."""

    MLFLOW = "mlflow"  # P/* and A/*: access tokens only; anonymous -> 401
    ML_MODEL_FILES = "ml_model_files"  # only Bearer, carrying an access or a job token
    PACKAGES = "packages"  # packages API: every transport, job token included
    GENERIC_PACKAGES = "generic_packages"  # the same, and deploy tokens (`deploy_token_allowed`)
    REST = "rest"  # projects, pipelines, jobs, note writes: access tokens only
    REST_JOB_READ = "rest_job_read"  # MR and note reads: job token allowed on GET
    CURRENT_USER = "current_user"  # GET /user: access tokens, `read_user` scope enough
    CURRENT_JOB = "current_job"  # GET /job: job token only
    PYPI = "pypi"  # PyPI registry: Basic credentials only, read by the route (registry_auth)
    GIT_HTTP = "git_http"  # git over HTTP and raw files: read by the route (git_access)
    ADMIN = "admin"  # the sandbox's own control routes: the admin token only
    WEB = "web"  # the read-only HTML pages: no sign-in (a deliberate difference, docs/sandbox.md)


def authenticate(store: Store, family: Family, method: str, headers: Message,
                 query: dict[str, list[str]]) -> Principal | None:
    """Find the caller from the transports `family` reads.

    Returns None for an anonymous call. Raises `ApiError` 401 for a presented but invalid
    token, and 403 `insufficient_scope` for a token whose scopes do not cover `method`.
    """
    access, job = _credentials(family, headers, query)
    if family is Family.GENERIC_PACKAGES:
        deploy = _deploy_token(store, headers.get("DEPLOY-TOKEN") or _basic_password(headers))
        if deploy is not None:
            return deploy
    if access is None and job is None:
        return None
    principal = _lookup(store, access, job)
    if principal is None:
        raise web.unauthorized()
    if principal.token_kind not in ("job", "deploy") and "api" not in principal.scopes:
        read_only = method in ("GET", "HEAD")
        readers = {"read_api", "read_user"} if family is Family.CURRENT_USER else {"read_api"}
        if not readers & principal.scopes or not read_only:
            raise web.INSUFFICIENT_SCOPE
    return principal


def check_admin(admin_token: str, headers: Message) -> None:
    """Let a control-route call through only with the sandbox's admin token.

    It is read from `PRIVATE-TOKEN` or `Authorization: Bearer`. No token answers 401, any
    other token (a GitLab token of the seed included) 403.
    """
    presented, _ = _credentials(Family.REST, headers, {})
    if not presented:
        raise web.unauthorized()
    if not admin_token or not hmac.compare_digest(presented.encode(), admin_token.encode()):
        raise web.forbidden("the sandbox's control routes need its admin token")


def _credentials(family: Family, headers: Message, query: dict[str, list[str]]
                 ) -> tuple[str | None, str | None]:
    """(access-or-bearer token, job token) as this family would read them."""
    private = headers.get("PRIVATE-TOKEN") or _first(query, "private_token")
    bearer = None
    authz = headers.get("Authorization") or ""
    scheme, _, value = authz.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        bearer = value.strip()
    basic_password = None
    if scheme.lower() == "basic" and value.strip():
        try:
            decoded = base64.b64decode(value.strip()).decode()
            basic_password = decoded.partition(":")[2]
        except (ValueError, UnicodeDecodeError):
            basic_password = "\0invalid"
    job_header = headers.get("JOB-TOKEN") or _first(query, "job_token")

    if family is Family.CURRENT_JOB:
        return None, job_header
    if family in (Family.MLFLOW, Family.REST, Family.CURRENT_USER):
        return private or bearer, None
    if family is Family.REST_JOB_READ:
        return private or bearer, job_header
    if family is Family.ML_MODEL_FILES:
        # `sent_through(:http_token)` (`lib/api/ml_model_packages.rb`): only the
        # Authorization header, carrying either kind; PRIVATE-TOKEN is not read.
        return bearer, bearer
    # PACKAGES: every transport; a Basic password is an access token or a job token.
    token = private or bearer or basic_password
    return token, job_header or (token if not private else None)


def _basic_password(headers: Message) -> str | None:
    scheme, _, value = (headers.get("Authorization") or "").partition(" ")
    if scheme.lower() != "basic" or not value.strip():
        return None
    try:
        return base64.b64decode(value.strip()).decode().partition(":")[2]
    except (ValueError, UnicodeDecodeError):
        return None


def _deploy_token(store: Store, value: str | None) -> Principal | None:
    """A live deploy token as a caller without a user (`user_id` 0); an unknown one is no
    credential (GitLab's `deploy_token_from_request` finds nothing, the caller is
    anonymous)."""
    token = deploy_tokens.find(store, value or "")
    if token is None:
        return None
    return Principal(user_id=0, username=token.username, token_kind="deploy",
                     scopes=token.scopes, project_id=token.project_id)


def _first(query: dict[str, list[str]], key: str) -> str | None:
    values = query.get(key)
    return unquote(values[-1]) if values else None


def _lookup(store: Store, access: str | None, job: str | None) -> Principal | None:
    """Resolve access token first, then job token; None if neither is a live token."""
    return (find_principal(store, access, ("personal", "project"))
            or find_principal(store, job, ("job",)))


def resolve_project(store: Store, ref: str, principal: Principal | None, method: str,
                    family: Family) -> sqlite3.Row:
    """The project a request names, or the error GitLab gives for it.

    Anonymous writes are 401 (`authenticate_non_get!`); a project that is missing or that
    the caller cannot see is 404 `Project Not Found`, never 403.
    """
    if principal is None and (family is Family.MLFLOW or method not in ("GET", "HEAD")):
        raise web.unauthorized()
    project = find_project(store, ref)
    if project is None:
        raise web.not_found("Project")
    if project["visibility"] != "public" and access_level(store, project, principal) < GUEST:
        raise web.not_found("Project")
    return project
