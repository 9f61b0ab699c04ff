"""The packages API: list, get, files and delete, plus REST offset pagination."""

from __future__ import annotations

from mlflow_gitlab.sandbox.backend.packages import find_or_create
from mlflow_gitlab.sandbox.backend.projects import GUEST
from tests import gitlab_errors as errors

PACKAGES = "/projects/7/packages"
NOT_FOUND = (404, errors.RECORD_NOT_FOUND)  # ActiveRecord::RecordNotFound
FORBIDDEN = (403, errors.FORBIDDEN)
PROJECT_NOT_FOUND = (404, errors.PROJECT_NOT_FOUND)
INSUFFICIENT_SCOPE = (403, errors.INSUFFICIENT_SCOPE)


def upload(api, name: str, version: str = "1.0.0", file: str = "f.bin", data: bytes = b"x",
           **params: str) -> None:
    r = api.request("PUT", f"/projects/7/packages/generic/{name}/{version}/{file}", data=data,
                    params=params)
    assert r.status_code == 201, r.text


def package_id(sandbox, name: str, version: str = "1.0.0") -> int:
    return sandbox.app.store.one("SELECT id FROM packages WHERE name = ? AND version = ?",
                                 name, version)["id"]


def outcome(r) -> tuple[int, object]:
    return r.status_code, (r.json() if r.content else None)


def add_guest(sandbox) -> str:
    token = "glpat-guest-token-000000000000"
    with sandbox.app.store.tx() as db:
        user_id = db.execute("INSERT INTO users (username, name) VALUES ('guest', 'Guest')"
                             ).lastrowid
        db.execute("INSERT INTO members VALUES (7, ?, ?)", (user_id, GUEST))
        db.execute("INSERT INTO tokens (value, user_id, kind, scopes) "
                   "VALUES (?, ?, 'personal', 'api')", (token, user_id))
    return token


# --- list -----------------------------------------------------------------------------------


def test_python_gitlab_lists_more_than_one_page(api, gl):
    for i in range(25):
        upload(api, f"pkg-{i:02d}")
    project = gl.projects.get(7, lazy=True)
    packages = project.packages.list(package_type="generic", get_all=True)
    assert [p.name for p in packages] == [f"pkg-{i:02d}" for i in range(25)]  # created_at asc
    assert len(project.packages.list(get_all=False)) == 20  # default per_page
    listing = project.packages.list(iterator=True, per_page=10)
    assert len(list(listing)) == 25
    assert listing.total_pages == 3


def test_pagination_headers_and_links(api, sandbox):
    for i in range(25):
        upload(api, f"pkg-{i:02d}")
    r = api.request("GET", PACKAGES, params={"per_page": 10, "page": 2,
                                             "package_type": "generic"})
    assert r.status_code == 200
    assert [p["name"] for p in r.json()] == [f"pkg-{i:02d}" for i in range(10, 20)]
    h = r.headers
    assert (h["X-Page"], h["X-Per-Page"], h["X-Next-Page"], h["X-Prev-Page"]) == \
        ("2", "10", "3", "1")
    assert (h["X-Total"], h["X-Total-Pages"]) == ("25", "3")
    # Grape's params: the path `id`, the query and the declared defaults, sorted
    base = f"{sandbox.api_url}{PACKAGES}?id=7&order_by=created_at&package_type=generic"
    assert h["Link"] == ", ".join([
        f'<{base}&page=1&per_page=10&sort=asc>; rel="prev"',
        f'<{base}&page=3&per_page=10&sort=asc>; rel="next"',
        f'<{base}&page=1&per_page=10&sort=asc>; rel="first"',
        f'<{base}&page=3&per_page=10&sort=asc>; rel="last"',
    ])
    last = api.request("GET", PACKAGES, params={"per_page": 10, "page": 3})
    assert len(last.json()) == 5
    assert (last.headers["X-Next-Page"], last.headers["X-Prev-Page"]) == ("", "2")
    assert 'rel="next"' not in last.headers["Link"]


def test_pagination_edges(api):
    empty = api.request("GET", PACKAGES)
    assert (empty.status_code, empty.json()) == (200, [])
    assert (empty.headers["X-Total"], empty.headers["X-Total-Pages"]) == ("0", "1")
    assert (empty.headers["X-Next-Page"], empty.headers["X-Prev-Page"]) == ("", "")
    upload(api, "a")
    beyond = api.request("GET", PACKAGES, params={"page": 5})
    assert beyond.json() == []
    assert (beyond.headers["X-Page"], beyond.headers["X-Prev-Page"]) == ("5", "")
    clamped = api.request("GET", PACKAGES, params={"per_page": 500})
    assert clamped.headers["X-Per-Page"] == "100"
    # values are CGI-escaped; a repeated key keeps its last value; a sent `sort` wins
    r = api.request("GET", PACKAGES + "?package_name=x&package_name=a b%26c&sort=desc")
    assert r.headers["Link"].split(">")[0].split("?")[1] == \
        "id=7&order_by=created_at&package_name=a+b%26c&page=1&per_page=20&sort=desc"


INVALID_LIST_PARAMETERS = [  # (query, Grape's message)
    ({"per_page": 0}, "per_page has a value not allowed"),
    ({"per_page": -1}, "per_page does not have a valid value"),
    ({"page": 0}, "page does not have a valid value"),
    ({"page": "two"}, "page is invalid"),
    ({"page": "x", "per_page": "y", "sort": "up"},
     "page is invalid, per_page is invalid, sort does not have a valid value"),
    ({"order_by": "size"}, "order_by does not have a valid value"),
    ({"package_type": "docker"}, "package_type does not have a valid value"),
    ({"status": "deleted"}, "status does not have a valid value"),
    ({"include_versionless": "maybe"}, "include_versionless is invalid"),
]


def test_invalid_list_parameters(api):
    for params, error in INVALID_LIST_PARAMETERS:
        r = api.request("GET", PACKAGES, params=params)
        assert outcome(r) == (400, {"error": error}), params


def test_filters(api, sandbox):
    upload(api, "My-Model", "1.0.0")
    upload(api, "my-model", "2.0.0")
    upload(api, "other", "1.0.0")
    upload(api, "secret", "1.0.0", status="hidden")
    with sandbox.app.store.tx() as db:
        find_or_create(db, 7, "ml_model", "my-model", "1.0.0")

    def names(**params: str) -> list[tuple[str, str, str]]:
        r = api.request("GET", PACKAGES, params=params)
        assert r.status_code == 200, r.text
        return [(p["name"], p["version"], p["package_type"]) for p in r.json()]

    everything = [("My-Model", "1.0.0", "generic"), ("my-model", "2.0.0", "generic"),
                  ("other", "1.0.0", "generic"), ("my-model", "1.0.0", "ml_model")]
    assert names() == everything  # hidden packages are left out
    assert names(package_type="ml_model") == [("my-model", "1.0.0", "ml_model")]
    assert names(package_name="MODEL") == [everything[0], everything[1], everything[3]]
    assert names(package_name="y-mo", package_type="generic") == everything[:2]
    assert names(package_version="1.0.0") == [everything[0], everything[2], everything[3]]
    assert names(package_version="1.0") == []  # exact, not a prefix
    assert names(status="hidden") == [("secret", "1.0.0", "generic")]
    assert names(order_by="name", sort="desc") == [
        ("other", "1.0.0", "generic"), ("my-model", "1.0.0", "ml_model"),
        ("my-model", "2.0.0", "generic"), ("My-Model", "1.0.0", "generic")]
    assert names(order_by="version", sort="desc")[0] == ("my-model", "2.0.0", "generic")
    assert names(order_by="type", sort="desc")[0] == ("my-model", "1.0.0", "ml_model")


def test_package_json(api, sandbox):
    upload(api, "pkg")
    pid = package_id(sandbox, "pkg")
    (body,) = api.request("GET", PACKAGES).json()
    assert set(body) == {"id", "name", "version", "package_type", "status", "_links",
                         "created_at", "tags", "pipelines"}
    assert (body["id"], body["name"], body["version"], body["package_type"], body["status"]) \
        == (pid, "pkg", "1.0.0", "generic", "default")
    assert body["created_at"].endswith("Z") and body["created_at"][10] == "T"
    assert body["_links"] == {"web_path": f"/ml-team/demo-project/-/packages/{pid}"}
    (as_maintainer,) = api.request("GET", PACKAGES, token="maintainer").json()
    assert as_maintainer["_links"]["delete_api_path"] == \
        f"{sandbox.api_url}/projects/7/packages/{pid}"


# --- get ------------------------------------------------------------------------------------


def test_get_one_package_with_python_gitlab(api, gl, sandbox):
    upload(api, "pkg", "1.0.0")
    upload(api, "pkg", "1.1.0")
    package = gl.projects.get(7, lazy=True).packages.get(package_id(sandbox, "pkg", "1.1.0"))
    assert (package.name, package.version, package.status) == ("pkg", "1.1.0", "default")
    assert [v["version"] for v in package.versions] == ["1.0.0"]


def test_get_hidden_package_by_id_but_unknown_is_404(api, sandbox):
    upload(api, "pkg", status="hidden")
    assert api.request("GET", f"{PACKAGES}/{package_id(sandbox, 'pkg')}").status_code == 200
    assert outcome(api.request("GET", f"{PACKAGES}/999")) == NOT_FOUND
    assert outcome(api.request("GET", f"{PACKAGES}/abc")) == \
        (400, {"error": "package_id is invalid"})


def test_package_of_another_project_is_404(api, sandbox):
    with sandbox.app.store.tx() as db:
        db.execute("INSERT INTO projects (id, path, name, created_at) VALUES (8, 'x/y', 'y', 0)")
        db.execute("INSERT INTO members VALUES (8, 11, 30)")
        other = find_or_create(db, 8, "generic", "theirs", "1.0.0")["id"]
    assert outcome(api.request("GET", f"{PACKAGES}/{other}")) == NOT_FOUND
    assert api.request("GET", f"/projects/8/packages/{other}").status_code == 200


# --- package files --------------------------------------------------------------------------


def test_package_files_with_python_gitlab(api, gl, sandbox):
    upload(api, "pkg", file="a.bin", data=b"aaa")
    upload(api, "pkg", file="a.bin", data=b"aaaa")
    upload(api, "pkg", file="dir/b.bin", data=b"b")
    package = gl.projects.get(7, lazy=True).packages.get(package_id(sandbox, "pkg"))
    files = package.package_files.list(get_all=True)
    assert [(f.file_name, f.size) for f in files] == \
        [("a.bin", 3), ("a.bin", 4), ("dir%2Fb.bin", 1)]
    assert set(files[0].attributes) >= {"id", "package_id", "created_at", "file_name", "size",
                                        "file_md5", "file_sha1", "file_sha256", "pipelines"}
    r = api.request("GET", f"{PACKAGES}/{package.id}/package_files",
                    params={"order_by": "file_name", "sort": "desc", "per_page": 2})
    assert [f["file_name"] for f in r.json()] == ["dir%2Fb.bin", "a.bin"]
    assert (r.headers["X-Total"], r.headers["X-Next-Page"]) == ("3", "2")
    assert outcome(api.request("GET", f"{PACKAGES}/999/package_files")) == NOT_FOUND
    r = api.request("GET", f"{PACKAGES}/{package.id}/package_files", params={"order_by": "size"})
    assert outcome(r) == (400, {"error": "order_by does not have a valid value"})


# --- delete ---------------------------------------------------------------------------------


def test_delete_package_with_python_gitlab_as_maintainer(api, sandbox):
    import gitlab

    upload(api, "pkg", data=b"bytes")
    pid = package_id(sandbox, "pkg")
    blob = sandbox.app.store.blob_path(sandbox.app.store.one("SELECT blob FROM package_files")[0])
    assert blob.exists()
    gl = gitlab.Gitlab(sandbox.url, private_token=sandbox.tokens["maintainer"])
    gl.projects.get(7, lazy=True).packages.delete(pid)
    assert outcome(api.request("GET", f"{PACKAGES}/{pid}")) == NOT_FOUND
    assert api.request("GET", "/projects/7/packages/generic/pkg/1.0.0/f.bin").status_code == 404
    assert not blob.exists()
    r = api.request("DELETE", f"{PACKAGES}/{pid}", token="maintainer")
    assert outcome(r) == NOT_FOUND


def test_delete_package_returns_204_without_body(api, sandbox):
    upload(api, "pkg")
    r = api.request("DELETE", f"{PACKAGES}/{package_id(sandbox, 'pkg')}", token="maintainer")
    assert (r.status_code, r.content) == (204, b"")


def test_delete_package_file(api, sandbox):
    upload(api, "pkg", file="a.bin", data=b"old")
    upload(api, "pkg", file="a.bin", data=b"new")
    pid = package_id(sandbox, "pkg")
    newest, = sandbox.app.store.all("SELECT id FROM package_files ORDER BY id DESC LIMIT 1")
    path = f"{PACKAGES}/{pid}/package_files/{newest['id']}"
    assert outcome(api.request("DELETE", path)) == FORBIDDEN  # developer
    r = api.request("DELETE", path, token="maintainer")
    assert (r.status_code, r.content) == (204, b"")
    # the older duplicate is what a download finds now
    assert api.request("GET", "/projects/7/packages/generic/pkg/1.0.0/a.bin").content == b"old"
    assert outcome(api.request("DELETE", path, token="maintainer")) == \
        (404, {"message": "404 Not Found"})  # `not_found!`, capital F
    assert outcome(api.request("DELETE", f"{PACKAGES}/999/package_files/1",
                               token="maintainer")) == NOT_FOUND
    assert outcome(api.request("DELETE", f"{PACKAGES}/x/package_files/y", token="maintainer")) \
        == (400, {"error": "package_id is invalid, package_file_id is invalid"})


def test_file_of_another_package_cannot_be_deleted_through_this_one(api, sandbox):
    upload(api, "a")
    upload(api, "b")
    file_of_b = sandbox.app.store.one(
        "SELECT f.id FROM package_files f JOIN packages p ON p.id = f.package_id "
        "WHERE p.name = 'b'")["id"]
    path = f"{PACKAGES}/{package_id(sandbox, 'a')}/package_files/{file_of_b}"
    assert outcome(api.request("DELETE", path, token="maintainer")) == \
        (404, {"message": "404 Not Found"})


# --- auth -----------------------------------------------------------------------------------


def test_auth_matrix(api, sandbox):
    upload(api, "pkg")
    pid = package_id(sandbox, "pkg")
    job = {"token": sandbox.tokens["job"], "transport": "job"}
    cases = [  # (token kwargs, list outcome, delete outcome)
        ({"token": None}, PROJECT_NOT_FOUND, (401, {"message": "401 Unauthorized"})),
        ({"token": "glpat-nope"}, (401, {"message": "401 Unauthorized"}),
         (401, {"message": "401 Unauthorized"})),
        ({"token": "read_api"}, 200, INSUFFICIENT_SCOPE),
        ({"token": "read_user"}, INSUFFICIENT_SCOPE, INSUFFICIENT_SCOPE),
        ({"token": "non_member"}, PROJECT_NOT_FOUND, PROJECT_NOT_FOUND),
        ({"token": add_guest(sandbox)}, FORBIDDEN, FORBIDDEN),
        ({"token": "reporter"}, 200, FORBIDDEN),
        ({"token": "developer"}, 200, FORBIDDEN),
        (job, 200, FORBIDDEN),  # the job token acts as the developer who ran the pipeline
    ]
    for kwargs, list_outcome, delete_outcome in cases:
        listing = api.request("GET", PACKAGES, **kwargs)
        got = listing.status_code if listing.status_code == 200 else outcome(listing)
        assert got == list_outcome, kwargs
        assert outcome(api.request("DELETE", f"{PACKAGES}/{pid}", **kwargs)) == \
            delete_outcome, kwargs
    assert api.request("GET", f"{PACKAGES}/{pid}/package_files", **job).status_code == 200
    r = api.request("DELETE", f"{PACKAGES}/{pid}", token="maintainer")
    assert r.status_code == 204


def test_public_project_lists_for_anyone(api, sandbox):
    upload(api, "pkg")
    with sandbox.app.store.tx() as db:
        db.execute("UPDATE projects SET visibility = 'public' WHERE id = 7")
    for token in (None, "non_member"):
        r = api.request("GET", PACKAGES, token=token)
        assert [p["name"] for p in r.json()] == ["pkg"], token
    r = api.request("DELETE", f"{PACKAGES}/{package_id(sandbox, 'pkg')}", token="non_member")
    assert outcome(r) == FORBIDDEN
