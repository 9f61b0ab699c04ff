"""The project entity: `GET /projects/:id`, and `PUT /projects/:id` for its description.

The job token is not accepted here (Family.REST ignores it), so a CI job calling this on a
private project is anonymous and gets 404 Project Not Found; python-gitlab users pass
`lazy=True` instead. Dispatch has already resolved and authorized the project.
"""

from __future__ import annotations

import sqlite3
import zlib
from typing import Any
from urllib.parse import urlsplit

from mlflow_gitlab.sandbox import web
from mlflow_gitlab.sandbox.auth import Family
from mlflow_gitlab.sandbox.backend import projects
from mlflow_gitlab.sandbox.backend.projects import MAINTAINER, UPDATABLE, access_level
from mlflow_gitlab.sandbox.backend.store import iso8601
from mlflow_gitlab.sandbox.router import Router

from .rest_common import project_url


def register(router: Router) -> None:
    """Register the project routes."""

    @router.route("GET", "/projects/:id", Family.REST)
    def get_project(req: web.Request) -> web.Response:
        return web.Response(200, project_json(req, req.project))

    @router.route("PUT", "/projects/:id", Family.REST)
    def update_project(req: web.Request) -> web.Response:
        """Grape's `at_least_one_of` comes first, then `authorize_admin_project` (Maintainer);
        the sandbox updates `description` only (`lib/api/projects.rb`)."""
        changes = {key: str(req.params[key]) for key in sorted(UPDATABLE) if key in req.params}
        if not changes:
            raise web.grape_error(f"{', '.join(sorted(UPDATABLE))} are missing, at least one "
                                  "parameter must be provided")
        if access_level(req.app.store, req.project, req.principal) < MAINTAINER:
            raise web.forbidden()
        project = projects.update_project(req.app.store, req.project["id"], changes)
        return web.Response(200, project_json(req, project))


def namespace_json(req: web.Request, project: sqlite3.Row) -> dict[str, Any]:
    """The project's namespace: the group path before the last `/` (a user without one).

    The sandbox has no namespaces table; the id is derived from the path so it is stable
    across restarts and shared by projects of one group.
    """
    full_path, _, _ = project["path"].rpartition("/")
    full_path = full_path or project["path"]
    is_group = "/" in project["path"]
    parent = full_path.rpartition("/")[0]
    return {
        "id": 1000 + zlib.crc32(full_path.encode()) % 9000,
        "name": full_path.rpartition("/")[2],
        "path": full_path.rpartition("/")[2],
        "kind": "group" if is_group else "user",
        "full_path": full_path,
        "parent_id": 1000 + zlib.crc32(parent.encode()) % 9000 if parent else None,
        "avatar_url": None,
        "web_url": f"{req.base_url}/groups/{full_path}" if is_group
        else f"{req.base_url}/{full_path}",
    }


def project_json(req: web.Request, project: sqlite3.Row) -> dict[str, Any]:
    """GitLab's `ProjectWithAccess` entity, trimmed to what clients read."""
    namespace = namespace_json(req, project)
    web_url = project_url(req, project)
    api = f"{req.base_url}/api/v4/projects/{project['id']}"
    created = iso8601(project["created_at"])
    host = urlsplit(req.base_url).hostname or "localhost"
    return {
        "id": project["id"],
        "description": project["description"],
        "name": project["name"],
        "name_with_namespace": f"{namespace['name']} / {project['name']}",
        "path": project["path"].rpartition("/")[2],
        "path_with_namespace": project["path"],
        "created_at": created,
        "default_branch": project["default_branch"],
        "tag_list": [],
        "topics": [],
        "ssh_url_to_repo": f"git@{host}:{project['path']}.git",
        "http_url_to_repo": f"{web_url}.git",
        "web_url": web_url,
        "readme_url": None,
        "forks_count": 0,
        "avatar_url": None,
        "star_count": 0,
        "last_activity_at": created,
        "namespace": namespace,
        "_links": {
            "self": api, "issues": f"{api}/issues", "merge_requests": f"{api}/merge_requests",
            "repo_branches": f"{api}/repository/branches", "labels": f"{api}/labels",
            "events": f"{api}/events", "members": f"{api}/members",
            "cluster_agents": f"{api}/cluster_agents",
        },
        "packages_enabled": True,
        "empty_repo": False,
        "archived": False,
        "visibility": project["visibility"],
        "issues_enabled": True,
        "merge_requests_enabled": True,
        "jobs_enabled": True,
        "wiki_enabled": True,
        "snippets_enabled": True,
        "container_registry_enabled": True,
        "model_experiments_access_level": "enabled",
        "model_registry_access_level": "enabled",
        "public_jobs": True,
        "shared_runners_enabled": True,
        "import_status": "none",
        "open_issues_count": 0,
        "ci_default_git_depth": 20,
        "ci_config_path": None,
        "shared_with_groups": [],
        "only_allow_merge_if_pipeline_succeeds": False,
        "request_access_enabled": True,
        "merge_method": "merge",
        "squash_option": "default_off",
        "permissions": _permissions(req, project),
    }


def _permissions(req: web.Request, project: sqlite3.Row) -> dict[str, Any]:
    """The caller's own role: `project_access` is null for a non-member of a public project."""
    level = access_level(req.app.store, project, req.principal)
    project_access = {"access_level": level, "notification_level": 3} if level else None
    return {"project_access": project_access, "group_access": None}
