"""Merge request pages: `/<project>/-/merge_requests` and `/-/merge_requests/:iid`.

An MR's page shows its description and notes as GitLab-flavoured Markdown (the report's
tables, links, `<sub>`, and its Mermaid chart drawn as a chart), and the pipelines that ran
for it. The list opens on the open MRs, as GitLab's does; `?state=` picks another tab.
"""

from __future__ import annotations

import sqlite3

from mlflow_gitlab.sandbox import web
from mlflow_gitlab.sandbox.backend import merge_requests
from mlflow_gitlab.sandbox.backend.ci_links import users_by_id
from mlflow_gitlab.sandbox.backend.errors import NotFound
from mlflow_gitlab.sandbox.backend.merge_requests import MergeRequestFilter
from mlflow_gitlab.sandbox.backend.records import ar_integer
from mlflow_gitlab.sandbox.pages.markdown import render
from mlflow_gitlab.sandbox.pages.render import html, project_page
from mlflow_gitlab.sandbox.router import Router

TABS = ("opened", "merged", "closed", "all")


def register(router: Router) -> None:
    @project_page(router, "/-/merge_requests")
    def merge_request_list(request: web.Request, project: sqlite3.Row) -> web.Response:
        store = request.app.store
        state = (request.query.get("state") or ["opened"])[-1]
        state = state if state in TABS else "opened"
        rows = merge_requests.list_merge_requests(store, project["id"],
                                                  MergeRequestFilter(state=state))
        return html("merge_requests.html", project=project, merge_requests=rows, state=state,
                    tabs=TABS, users=users_by_id(store, [r["author_id"] for r in rows]))

    @project_page(router, "/-/merge_requests/:iid")
    def merge_request(request: web.Request, project: sqlite3.Row) -> web.Response:
        store = request.app.store
        iid = ar_integer(request.path_param("iid"))
        found = merge_requests.find_merge_request(store, project["id"], iid) if iid else None
        if found is None:
            raise NotFound()
        notes = merge_requests.notes(store, found)
        merge = merge_requests.merge_of(store, found)
        users = users_by_id(store, [found["author_id"], *(n["author_id"] for n in notes),
                                    merge["merged_by_id"] if merge else None])
        return html("merge_request.html", project=project, mr=found, merge=merge, users=users,
                    labels=merge_requests.labels_of(found),
                    description=render(found["description"]),
                    notes=[(note, render(note["body"])) for note in notes],
                    pipelines=merge_requests.pipelines_of(store, found))
