"""Rendering a page: the Jinja2 environment, the project a page belongs to, HTML responses."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import datetime, timezone
from functools import cache
from typing import Any
from urllib.parse import unquote

from jinja2 import Environment, PackageLoader, select_autoescape

from mlflow_gitlab.sandbox import web
from mlflow_gitlab.sandbox.auth import Family
from mlflow_gitlab.sandbox.backend.errors import BackendError
from mlflow_gitlab.sandbox.backend.projects import project_at_path
from mlflow_gitlab.sandbox.router import Router

Page = Callable[[web.Request, sqlite3.Row], web.Response]

HTML = "text/html; charset=utf-8"


@cache
def environment() -> Environment:
    """The templates under `pages/templates`, autoescaped, with the pages' filters."""
    env = Environment(loader=PackageLoader("mlflow_gitlab.sandbox.pages"),
                      autoescape=select_autoescape(default=True), trim_blocks=True,
                      lstrip_blocks=True)
    env.filters["when"] = when
    env.filters["number"] = number
    env.filters["size"] = size
    env.filters["file_name"] = unquote
    return env


def html(template: str, status: int = 200, **context: Any) -> web.Response:
    """`template` rendered with `context` as an HTML response."""
    body = environment().get_template(template).render(**context)
    return web.Response(status, body, {"Content-Type": HTML})


def not_found(request: web.Request, project: sqlite3.Row | None = None) -> web.Response:
    """GitLab's answer for a page that does not exist: 404 with an HTML page."""
    return html("not_found.html", 404, project=project, path=request.raw_path)


def project_page(router: Router, template: str) -> Callable[[Page], Page]:
    """Register `GET /<project path>` + `template` for a page of one project.

    The project path may hold groups (`group/sub/project`); an unknown project, or a record
    the page looks up and the backend does not find, is the 404 page.
    """
    def register(page: Page) -> Page:
        def handler(request: web.Request) -> web.Response:
            project = project_at_path(request.app.store, request.path_param("project"))
            if project is None:
                return not_found(request)
            try:
                return page(request, project)
            except BackendError:
                return not_found(request, project)

        router.route("GET", "/*project" + template, Family.WEB, prefix="")(handler)
        return page
    return register


def project_url(request: web.Request, project: sqlite3.Row, path: str = "") -> str:
    """The absolute URL of a page of `project`, as the tool prints them."""
    return f"{request.base_url}/{project['path']}{path}"


def when(value: float | int | None, millis: bool = False) -> str:
    """A timestamp (seconds, or milliseconds with `millis`) as `2026-12-06 14:03 UTC`."""
    if value is None:
        return ""
    seconds = value / 1000 if millis else value
    return datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def number(value: Any) -> str:
    """A metric value, short: 0.2134, 1.2e-05, 42."""
    if isinstance(value, float):
        return f"{value:.6g}"
    return "" if value is None else str(value)


def size(value: int | None) -> str:
    """A file size, short: 812 B, 4.2 KiB, 1.5 MiB."""
    if value is None:
        return ""
    amount = float(value)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if amount < 1024 or unit == "GiB":
            return f"{int(amount)} {unit}" if unit == "B" else f"{amount:.1f} {unit}"
        amount /= 1024
    return f"{amount:.1f} GiB"
