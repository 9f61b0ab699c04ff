"""Merge request notes: list, get, create, update, delete.

Reads accept the job token (Family.REST_JOB_READ); writes are Family.REST, so a JOB-TOKEN
is ignored there and the caller is anonymous -> 401. Behaviour follows `lib/api/notes.rb`
and `lib/api/helpers/notes_helpers.rb`: the MR path segment is `:noteable_id`, a missing
MR or note is the RecordNotFound 404, edits need the author or a Maintainer.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from mlflow_gitlab.sandbox import web
from mlflow_gitlab.sandbox.auth import Family
from mlflow_gitlab.sandbox.backend import merge_requests
from mlflow_gitlab.sandbox.backend.merge_requests import ACTIVITY_FILTERS, NOTE_ORDER_BY
from mlflow_gitlab.sandbox.backend.projects import MAINTAINER, access_level
from mlflow_gitlab.sandbox.backend.store import iso8601
from mlflow_gitlab.sandbox.router import Router

from .merge_requests import find_merge_request
from .rest_common import Params, paginated_json, path_int, record_not_found, user_basic

NOTES = "/projects/:id/merge_requests/:noteable_id/notes"


def register(router: Router) -> None:
    """Register the note routes."""
    route = router.route

    @route("GET", NOTES, Family.REST_JOB_READ)
    def list_notes(req: web.Request) -> web.Response:
        params = Params(req)  # Grape validates before the endpoint looks anything up
        order_by = params.choice("order_by", NOTE_ORDER_BY, "created_at")
        sort = params.choice("sort", ("asc", "desc"), "desc")
        activity = params.choice("activity_filter", ACTIVITY_FILTERS, "all_notes")
        params.check()
        mr = find_merge_request(req, "noteable_id")
        rows = merge_requests.notes(req.app.store, mr, order_by=order_by, sort=sort,
                                    activity=activity)
        return paginated_json(req, rows, lambda row: note_json(req, row))

    @route("GET", NOTES + "/:note_id", Family.REST_JOB_READ)
    def get_note(req: web.Request) -> web.Response:
        mr = find_merge_request(req, "noteable_id")
        return web.Response(200, note_json(req, _find_note(req, mr)))

    @route("POST", NOTES, Family.REST)
    def create_note(req: web.Request) -> web.Response:
        body = _body(req, required=True)
        if req.principal is not None:
            req.app.note_limiter().check(req.principal.user_id)
        mr = find_merge_request(req, "noteable_id")
        _validate(req, body)
        row = merge_requests.add_note(req.app.store, mr, body, req.principal.user_id)
        return web.Response(201, note_json(req, row))

    @route("PUT", NOTES + "/:note_id", Family.REST)
    def update_note(req: web.Request) -> web.Response:
        body = _body(req, required=False)
        mr = find_merge_request(req, "noteable_id")
        note = _find_note(req, mr)
        _authorize_admin(req, note)
        if body is not None:  # `body` is optional: without it the note is left as it is
            _validate(req, body)
            note = merge_requests.update_note(req.app.store, note, body)
        return web.Response(200, note_json(req, note))

    @route("DELETE", NOTES + "/:note_id", Family.REST)
    def delete_note(req: web.Request) -> web.Response:
        mr = find_merge_request(req, "noteable_id")
        note = _find_note(req, mr)
        _authorize_admin(req, note)
        merge_requests.delete_note(req.app.store, note)
        return web.Response(204)


def _find_note(req: web.Request, mr: sqlite3.Row) -> sqlite3.Row:
    """`noteable.notes.find(note_id)`: a note of another MR is as missing as no note."""
    note = merge_requests.find_note(req.app.store, mr, path_int(req, "note_id"))
    if note is None:
        raise record_not_found()
    return note


def _body(req: web.Request, *, required: bool) -> str | None:
    """The `body` param, as Grape declares it: required on POST, `allow_blank: false` on PUT."""
    value = req.params.get("body")
    if value is None:
        if required:
            raise web.grape_error("body is missing")
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise web.grape_error("body is invalid")
    text = str(value)
    if not required and not text.strip():
        raise web.grape_error("body is empty")
    return text


def _validate(req: web.Request, body: str) -> None:
    """The Note model's validations, reported as `bad_request!("Note #{errors.messages}")`.

    The Ruby hash is rendered as GitLab's Ruby prints it (`{:note=>[...]}`); the exact
    wording is unverified.
    """
    limit = req.app.settings.notes_max_length
    if not body.strip():
        error = "can't be blank"
    elif len(body) > limit:
        error = f"is too long (maximum is {limit} characters)"
    else:
        return
    raise web.bad_request(f'Note {{:note=>["{error}"]}}')


def _authorize_admin(req: web.Request, note: sqlite3.Row) -> None:
    """`authorize! :admin_note`: the author or a Maintainer+, and never on a system note."""
    is_author = req.principal is not None and req.principal.user_id == note["author_id"]
    maintainer = access_level(req.app.store, req.project, req.principal) >= MAINTAINER
    if note["system"] or not (is_author or maintainer):
        raise web.forbidden()


def note_json(req: web.Request, note: sqlite3.Row) -> dict[str, Any]:
    """GitLab's `Note` entity for an MR note (not a diff note, so never resolvable)."""
    return {
        "id": note["id"], "type": None, "body": note["body"], "attachment": None,
        "author": user_basic(req, note["author_id"]),
        "created_at": iso8601(note["created_at"]), "updated_at": iso8601(note["updated_at"]),
        "system": bool(note["system"]), "noteable_id": note["noteable_id"],
        "noteable_type": note["noteable_type"], "project_id": note["project_id"],
        "resolvable": False, "confidential": False, "internal": False, "imported": False,
        "imported_from": "none", "noteable_iid": note["noteable_iid"], "commands_changes": {},
    }
