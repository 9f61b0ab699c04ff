"""Pieces shared by the ordinary REST endpoints: URLs, user entities, roles, Grape params.

Not an endpoint module (it registers no routes): projects, merge requests, notes, pipelines
and jobs import it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from mlflow_gitlab.sandbox import web
from mlflow_gitlab.sandbox.backend.projects import access_level
from mlflow_gitlab.sandbox.backend.users import get_user

from .rest_pagination import paginated

# --- URLs -------------------------------------------------------------------------------------


def project_url(req: web.Request, project: sqlite3.Row) -> str:
    """The project's web URL: `<base>/<full path>`."""
    return f"{req.base_url}/{project['path']}"


# --- users ------------------------------------------------------------------------------------


def user_basic(req: web.Request, user_id: int | None) -> dict[str, Any] | None:
    """GitLab's `UserBasic` entity (authors, pipeline users), or None for no user."""
    user = get_user(req.app.store, user_id)
    if user is None:
        return None
    return {
        "id": user["id"], "username": user["username"], "name": user["name"],
        "state": "active", "locked": False, "avatar_url": None,
        "web_url": f"{req.base_url}/{user['username']}",
    }


def user_full(req: web.Request, user_id: int | None) -> dict[str, Any] | None:
    """GitLab's `User` entity (a job's `user`): `UserBasic` plus profile fields."""
    basic = user_basic(req, user_id)
    if basic is None:
        return None
    bot = get_user(req.app.store, user_id)["bot"]
    return {**basic, "bio": "", "location": "", "public_email": None, "linkedin": "",
            "twitter": "", "discord": "", "website_url": "", "organization": "",
            "job_title": "", "pronouns": None, "bot": bool(bot), "work_information": None,
            "followers": 0, "following": 0, "local_time": None}


# --- permissions ------------------------------------------------------------------------------


def require_role(req: web.Request, level: int) -> None:
    """`authorize!` for a read on a visible project: a role below `level` -> 403 Forbidden.

    Dispatch has already hidden private projects from non-members (404); on a public project
    anyone may read, so the role matters only on private ones.
    """
    if req.project["visibility"] == "public":
        return
    if access_level(req.app.store, req.project, req.principal) < level:
        raise web.forbidden()


# --- Grape parameters ---------------------------------------------------------------------------


class Params:
    """Grape-style parameter checks that collect every error and raise them joined by `, `."""

    def __init__(self, req: web.Request) -> None:
        self.req = req
        self.errors: list[str] = []

    def choice(self, name: str, allowed: Iterable[str], default: str | None = None
               ) -> str | None:
        """An optional String with `values:` -> `<name> does not have a valid value`."""
        value = self.req.params.get(name)
        if value is None:
            return default
        if not isinstance(value, str) or value not in allowed:
            self.errors.append(f"{name} does not have a valid value")
            return default
        return value

    def choices(self, name: str, allowed: Iterable[str]) -> list[str] | None:
        """An optional Array[String] (`scope[]=a&scope[]=b` or `scope=a`) with `values:`."""
        value = self.req.params.get(name)
        if value is None:
            return None
        values = [value] if isinstance(value, str) else value
        allowed_set = set(allowed)
        if not isinstance(values, list) or not all(v in allowed_set for v in values):
            self.errors.append(f"{name} does not have a valid value")
            return None
        return values

    def string(self, name: str) -> str | None:
        value = self.req.params.get(name)
        return None if value is None else str(value)

    def datetime(self, name: str) -> float | None:
        """An optional ISO 8601 DateTime, as epoch seconds -> `<name> is invalid`."""
        value = self.req.params.get(name)
        if value is None:
            return None
        try:
            parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            self.errors.append(f"{name} is invalid")
            return None
        return parsed.timestamp()

    def check(self) -> None:
        """Raise the collected errors as one Grape 400."""
        if self.errors:
            raise web.grape_error(", ".join(self.errors))


def path_int(req: web.Request, name: str, label: str | None = None) -> int:
    """A path parameter declared `type: Integer`: not an integer -> 400 `<label> is invalid`."""
    raw = req.path_param(name)
    try:
        return int(raw)
    except ValueError:
        raise web.grape_error(f"{label or name} is invalid") from None


def record_not_found() -> web.ApiError:
    """An `ActiveRecord::RecordNotFound` escaping an endpoint (a `find`/`find_by!` miss).

    `lib/api/api.rb` rescues it as `{"message":"404 Not found"}`, lowercase `f`, unlike
    `not_found!` ("404 <Thing> Not Found").
    """
    return web.message_error(404, "404 Not found")


def paginated_json(req: web.Request, rows: list[Any], present: Callable[[Any], Any]
                   ) -> web.Response:
    """A paginated 200 of `rows`, presenting only the rows of the requested page."""
    response = paginated(req, rows)
    response.body = [present(row) for row in response.body]
    return response
