"""MR notes: create, list, get, update in place, delete; limits and auth."""

from __future__ import annotations

import gitlab
import pytest

from mlflow_gitlab.sandbox.backend.store import now

NOTES = "/projects/7/merge_requests/1/notes"
MARKER = "<!-- mlflow-gitlab:report -->"


@pytest.fixture
def mr(gl):
    return gl.projects.get(7, lazy=True).mergerequests.get(1, lazy=True)


def post(api, body: str, token: str = "developer"):
    return api.request("POST", NOTES, token=token, json={"body": body})


def add_system_note(sandbox, body: str = "added 1 commit") -> int:
    t = now()
    with sandbox.app.store.tx() as db:
        return db.execute(
            "INSERT INTO notes (project_id, noteable_type, noteable_id, noteable_iid, body, "
            "author_id, system, created_at, updated_at) "
            "VALUES (7, 'MergeRequest', 301, 1, ?, 11, 1, ?, ?)", (body, t, t)).lastrowid


def test_create_list_get_update_delete_with_python_gitlab(mr):
    note = mr.notes.create({"body": "first"})
    assert note.body == "first"
    assert note.author["username"] == "dev"
    assert (note.noteable_type, note.noteable_id, note.noteable_iid) == ("MergeRequest", 301, 1)
    assert note.system is False

    assert [n.id for n in mr.notes.list(get_all=True)] == [note.id]
    fetched = mr.notes.get(note.id)
    fetched.body = "second"
    fetched.save()
    again = mr.notes.get(note.id)
    assert (again.id, again.body) == (note.id, "second")  # updated in place, same id

    again.delete()
    with pytest.raises(gitlab.GitlabGetError) as excinfo:
        mr.notes.get(note.id)
    assert excinfo.value.response_code == 404


def test_exact_bodies_of_create_update_delete(api):
    r = post(api, "hello")
    assert r.status_code == 201
    note = r.json()
    assert set(note) >= {"id", "type", "body", "attachment", "author", "created_at",
                         "updated_at", "system", "noteable_id", "noteable_type", "project_id",
                         "noteable_iid", "resolvable", "confidential", "internal"}
    assert (note["type"], note["resolvable"], note["internal"]) == (None, False, False)
    r = api.request("PUT", f"{NOTES}/{note['id']}", json={"body": "bye"})
    assert (r.status_code, r.json()["id"], r.json()["body"]) == (200, note["id"], "bye")
    assert r.json()["created_at"] == note["created_at"]
    r = api.request("DELETE", f"{NOTES}/{note['id']}")
    assert (r.status_code, r.content) == (204, b"")
    r = api.request("GET", f"{NOTES}/{note['id']}")
    assert (r.status_code, r.json()) == (404, {"message": "404 Not found"})


def test_put_without_body_keeps_the_note(api):
    note = post(api, "keep me").json()
    r = api.request("PUT", f"{NOTES}/{note['id']}", json={})
    assert (r.status_code, r.json()["body"]) == (200, "keep me")


def test_list_order_defaults_to_created_at_desc(sandbox, api):
    ids = [post(api, f"n{i}").json()["id"] for i in range(3)]
    system_id = add_system_note(sandbox)
    r = api.request("GET", NOTES)
    assert [n["id"] for n in r.json()] == [system_id, *reversed(ids)]  # system notes included
    r = api.request("GET", NOTES, params={"sort": "asc"})
    assert [n["id"] for n in r.json()] == [*ids, system_id]
    api.request("PUT", f"{NOTES}/{ids[0]}", json={"body": "edited"})
    r = api.request("GET", NOTES, params={"order_by": "updated_at"})
    assert r.json()[0]["id"] == ids[0]
    r = api.request("GET", NOTES, params={"activity_filter": "only_comments"})
    assert system_id not in [n["id"] for n in r.json()]


def test_invalid_list_params_are_grape_400(api):
    r = api.request("GET", NOTES, params={"order_by": "id"})
    assert (r.status_code, r.json()) == (400, {"error": "order_by does not have a valid value"})


def test_pagination_across_more_than_twenty_notes(api, mr):
    for i in range(23):
        assert post(api, f"note {i}").status_code == 201
    r = api.request("GET", NOTES)
    assert len(r.json()) == 20
    assert (r.headers["X-Total"], r.headers["X-Total-Pages"], r.headers["X-Next-Page"]) == \
        ("23", "2", "2")
    assert 'rel="next"' in r.headers["Link"]
    r = api.request("GET", NOTES, params={"per_page": 500})
    assert (r.headers["X-Per-Page"], len(r.json())) == ("100", 23)
    notes = mr.notes.list(get_all=True)
    assert sorted(n.body for n in notes) == sorted(f"note {i}" for i in range(23))


def upsert(mr, username: str, body: str):
    """The report pattern: update our marked note if there is one, else create it."""
    for note in mr.notes.list(iterator=True):
        if MARKER in note.body and note.author["username"] == username:
            note.body = body
            note.save()
            return note
    return mr.notes.create({"body": body})


def test_upsert_by_marker_and_author(sandbox, api):
    bot = gitlab.Gitlab(sandbox.url, private_token=sandbox.tokens["maintainer"])
    mr = bot.projects.get(7, lazy=True).mergerequests.get(1, lazy=True)
    decoy = post(api, f"{MARKER} quoted by a human").json()  # same marker, other author
    first = upsert(mr, "project_7_bot_ml", f"{MARKER} v1")
    assert first.author["username"] == "project_7_bot_ml"
    second = upsert(mr, "project_7_bot_ml", f"{MARKER} v2")
    assert second.id == first.id
    bodies = {n["id"]: n["body"] for n in api.request("GET", NOTES).json()}
    assert bodies == {decoy["id"]: f"{MARKER} quoted by a human", first.id: f"{MARKER} v2"}


def test_body_limit(api):
    limit = 1_000_000
    assert post(api, "x" * limit).status_code == 201
    r = post(api, "x" * (limit + 1))
    assert r.status_code == 400
    assert r.json() == {"message": '400 Bad request - Note {:note=>["is too long (maximum is '
                                   '1000000 characters)"]}'}
    note = post(api, "short").json()
    r = api.request("PUT", f"{NOTES}/{note['id']}", json={"body": "y" * (limit + 1)})
    assert r.status_code == 400
    assert api.request("GET", f"{NOTES}/{note['id']}").json()["body"] == "short"


def test_body_validation(api):
    r = api.request("POST", NOTES, json={})
    assert (r.status_code, r.json()) == (400, {"error": "body is missing"})
    r = post(api, "   ")
    assert (r.status_code, r.json()) == (
        400, {"message": "400 Bad request - Note {:note=>[\"can't be blank\"]}"})
    note = post(api, "ok").json()
    r = api.request("PUT", f"{NOTES}/{note['id']}", json={"body": ""})
    assert (r.status_code, r.json()) == (400, {"error": "body is empty"})


def test_missing_mr_and_foreign_note_are_404(api):
    r = api.request("POST", "/projects/7/merge_requests/9/notes", json={"body": "x"})
    assert (r.status_code, r.json()) == (404, {"message": "404 Not found"})
    r = api.request("GET", "/projects/7/merge_requests/x/notes")
    assert (r.status_code, r.json()) == (400, {"error": "noteable_id is invalid"})
    r = api.admin("POST", "/-/sandbox/merge_requests",
                  json={"title": "t", "source_branch": "b"})
    note = api.request("POST", "/projects/7/merge_requests/2/notes", json={"body": "x"}).json()
    r = api.request("GET", f"{NOTES}/{note['id']}")  # belongs to MR !2, not !1
    assert (r.status_code, r.json()) == (404, {"message": "404 Not found"})


def test_job_token_reads_but_cannot_write(sandbox, api):
    note = post(api, "from dev").json()
    gl_job = gitlab.Gitlab(sandbox.url, job_token=sandbox.tokens["job"])
    mr = gl_job.projects.get(7, lazy=True).mergerequests.get(1, lazy=True)
    assert [n.id for n in mr.notes.list(get_all=True)] == [note["id"]]
    assert mr.notes.get(note["id"]).body == "from dev"
    with pytest.raises(gitlab.GitlabAuthenticationError) as excinfo:
        mr.notes.create({"body": "from CI"})
    assert excinfo.value.response_code == 401
    for method, path in (("PUT", f"{NOTES}/{note['id']}"), ("DELETE", f"{NOTES}/{note['id']}")):
        r = api.request(method, path, token="job", transport="job", json={"body": "x"})
        assert (r.status_code, r.json()) == (401, {"message": "401 Unauthorized"})


@pytest.mark.parametrize(("token", "status", "body"), [
    (None, 401, {"message": "401 Unauthorized"}),
    ("glpat-not-a-real-token", 401, {"message": "401 Unauthorized"}),
    ("non_member", 404, {"message": "404 Project Not Found"}),
    ("reporter", 201, None),
    ("maintainer", 201, None),
])
def test_create_auth_matrix(api, token, status, body):
    r = api.request("POST", NOTES, token=token, transport="private", json={"body": "hi"})
    assert r.status_code == status
    if body is not None:
        assert r.json() == body


@pytest.mark.parametrize("token", ["read_api", "read_user"])
def test_tokens_without_api_scope_cannot_write(api, token):
    r = api.request("POST", NOTES, token=token, transport="private", json={"body": "hi"})
    assert (r.status_code, r.json()["error"]) == (403, "insufficient_scope")


def test_only_the_author_or_a_maintainer_edits(sandbox, api):
    note = post(api, "dev's note").json()
    path = f"{NOTES}/{note['id']}"
    r = api.request("PUT", path, token="reporter", json={"body": "hijack"})
    assert (r.status_code, r.json()) == (403, {"message": "403 Forbidden"})
    assert api.request("DELETE", path, token="reporter").status_code == 403
    r = api.request("PUT", path, token="maintainer", json={"body": "moderated"})
    assert (r.status_code, r.json()["author"]["username"]) == (200, "dev")
    system_id = add_system_note(sandbox)
    r = api.request("PUT", f"{NOTES}/{system_id}", json={"body": "x"})
    assert r.status_code == 403  # system notes are not editable, even by their author


def test_reads_auth_matrix(api):
    note = post(api, "x").json()
    for token, transport, status in ((None, "private", 404), ("read_api", "private", 200),
                                     ("reporter", "bearer", 200), ("non_member", "private", 404),
                                     ("job", "job", 200)):
        for path in (NOTES, f"{NOTES}/{note['id']}"):
            r = api.request("GET", path, token=token, transport=transport)
            assert r.status_code == status, (token, path)


def test_notes_create_rate_limit_is_gitlabs_429():
    """`check_rate_limit! :notes_create` (`lib/api/notes.rb`): per user, a JSON message."""
    import requests

    from mlflow_gitlab.sandbox import Settings, running_sandbox

    with running_sandbox(settings=Settings(notes_create_limit=2)) as sb:
        url = f"{sb.api_url}/projects/7/merge_requests/1/notes"

        def create(token: str) -> requests.Response:
            return requests.post(url, json={"body": "hi"}, timeout=10,
                                 headers={"PRIVATE-TOKEN": sb.tokens[token]})

        assert [create("developer").status_code for _ in range(2)] == [201, 201]
        r = create("developer")
        assert (r.status_code, r.json()) == (429, {"message": {
            "error": "This endpoint has been requested too many times. Try again later."}})
        assert create("maintainer").status_code == 201  # another user's own count
        assert len(sb.app.store.all("SELECT id FROM notes")) == 3
