"""Git over smart HTTP and raw files: `/<project>.git/...` and `/<project>/-/raw/<ref>/<path>`.

The git routes are GitLab's (`config/routes/git_http.rb`, served by
`app/controllers/repositories/git_http_controller.rb` behind Workhorse); here `git
http-backend` (CGI) does the protocol work on the project's bare repository (git_repos), after
git_access let the command through. The request body streams into git (gzip bodies
included, http-backend inflates them); the answer is buffered, as the repositories are small.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import tempfile
import threading
from typing import IO

from mlflow_gitlab.http.server import RequestBody
from mlflow_gitlab.sandbox import git_access, git_repos, web
from mlflow_gitlab.sandbox.auth import Family, authenticate
from mlflow_gitlab.sandbox.backend.projects import REPORTER, access_level, find_project
from mlflow_gitlab.sandbox.backend.tokens import Principal
from mlflow_gitlab.sandbox.router import Router

SERVICES = ("git-upload-pack", "git-receive-pack")
_TOKEN_HEADERS = ("PRIVATE-TOKEN", "Authorization")


def register(router: Router) -> None:
    """Register the git HTTP and raw file routes (outside /api/v4)."""

    @router.route("GET", "/*project.git/info/refs", Family.GIT_HTTP, prefix="")
    def info_refs(req: web.Request) -> web.Response:
        if req.method == "HEAD":  # `deny_head_requests`
            return web.Response(403, "", {"Content-Type": "text/plain; charset=utf-8"})
        service = (req.query.get("service") or [""])[-1]
        if service not in SERVICES:
            raise git_access.plain(403, "The command you're trying to execute is not allowed.")
        return _serve(req, "info/refs", push=service == "git-receive-pack")

    for service in SERVICES:
        def handler(req: web.Request, service: str = service) -> web.Response:
            return _serve(req, service, push=service == "git-receive-pack")
        router.route("POST", f"/*project.git/{service}", Family.GIT_HTTP, stream_body=True,
                     prefix="")(handler)

    @router.route("GET", "/*project/-/raw/*ref_and_path", Family.GIT_HTTP, prefix="")
    def raw(req: web.Request) -> web.Response:
        return _raw(req)


def _serve(req: web.Request, tail: str, push: bool) -> web.Response:
    store = req.app.store
    project_path = req.path_param("project")
    project = find_project(store, project_path) if not project_path.isdigit() else None
    caller = git_access.identify(store, req.headers)
    git_access.authorize(store, project, caller, push)
    assert project is not None  # authorize refuses a missing project
    if push:
        git_repos.ensure(store, project["path"], project["default_branch"])
    elif not git_repos.exists(store, project["path"]):
        raise git_access.plain(404, "A repository for this project does not exist yet.")
    username = caller.principal.username if caller else ""
    return _http_backend(req, f"/{project['path']}.git/{tail}", username)


def _http_backend(req: web.Request, path_info: str, remote_user: str) -> web.Response:
    """Run `git http-backend` for this request, feeding it the body as it arrives."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
           "GIT_PROJECT_ROOT": str(git_repos.root(req.app.store)),
           "GIT_HTTP_EXPORT_ALL": "1", "PATH_INFO": path_info,
           "REQUEST_METHOD": req.method, "QUERY_STRING": _query_string(req),
           "CONTENT_TYPE": req.headers.get("Content-Type") or "",
           "REMOTE_USER": remote_user, "REMOTE_ADDR": "127.0.0.1",
           "GIT_CONFIG_NOSYSTEM": "1", "HOME": str(git_repos.root(req.app.store))}
    for header, variable in (("Content-Encoding", "HTTP_CONTENT_ENCODING"),
                             ("Git-Protocol", "GIT_PROTOCOL")):
        if req.headers.get(header):
            env[variable] = req.headers[header]
    if req.body.length is not None:
        env["CONTENT_LENGTH"] = str(req.body.length)
    with tempfile.TemporaryFile() as errors, subprocess.Popen(
            ["git", "http-backend"], env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=errors) as proc:
        assert proc.stdin is not None and proc.stdout is not None
        feeder = threading.Thread(target=_feed, args=(req.body, proc.stdin), daemon=True)
        feeder.start()
        output = proc.stdout.read()
        proc.wait(timeout=300)
        feeder.join(timeout=60)
    separator = b"\r\n\r\n" if b"\r\n\r\n" in output else b"\n\n"
    head, _, body = output.partition(separator)
    status, headers = 200, {}
    for line in head.decode("latin-1").splitlines():
        name, _, value = line.partition(":")
        if name.lower() == "status":
            status = int(value.split()[0])
        elif name:
            headers[name.strip()] = value.strip()
    return web.Response(status, body, headers)


def _feed(body: RequestBody, stdin: IO[bytes]) -> None:
    try:
        for chunk in body.iter_chunks():
            stdin.write(chunk)
    except (BrokenPipeError, ConnectionError, ValueError):
        pass  # git stopped reading (it answers an error); the server drains the rest
    finally:
        with contextlib.suppress(BrokenPipeError):
            stdin.close()


def _query_string(req: web.Request) -> str:
    return "&".join(f"{key}={value}" for key, values in req.query.items() for value in values)


def _raw(req: web.Request) -> web.Response:
    """`Projects::RawController#show`: a file's bytes at a ref; 404 for anything missing.

    It reads an `api`-scope access token from `PRIVATE-TOKEN` or `private_token`
    (`find_user_from_web_access_token` of `lib/gitlab/auth/auth_finders.rb`); an anonymous
    caller of a private project is sent to the sign-in page, as GitLab's web routes do.
    """
    store = req.app.store
    project = find_project(store, req.path_param("project"))
    principal = _web_token_user(req)
    if project is not None and project["visibility"] != "public":
        if principal is None:
            return web.Response(302, "", {"Location": f"{req.base_url}/users/sign_in"})
        if access_level(store, project, principal) < REPORTER:
            project = None
    if project is None or not git_repos.exists(store, project["path"]):
        raise _not_found()
    repo = git_repos.path(store, project["path"])
    split = git_repos.split_ref(repo, req.path_param("ref_and_path"))
    data = git_repos.read_blob(repo, *split) if split else None
    if data is None:
        raise _not_found()
    try:
        data.decode()
        content_type = "text/plain; charset=utf-8"
    except UnicodeDecodeError:
        content_type = "application/octet-stream"
    return web.Response(200, data, {"Content-Type": content_type,
                                    "Content-Disposition": "inline",
                                    "X-Content-Type-Options": "nosniff"})


def _web_token_user(req: web.Request) -> Principal | None:
    if not (req.headers.get("PRIVATE-TOKEN") or req.query.get("private_token")):
        return None
    principal = authenticate(req.app.store, Family.REST, "GET", req.headers, req.query)
    if principal is None or "api" not in principal.scopes:
        raise web.unauthorized()
    return principal


def _not_found() -> web.ApiError:
    return web.ApiError(404, "404 Not Found\n", {"Content-Type": "text/plain; charset=utf-8"})
