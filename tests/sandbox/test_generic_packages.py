"""Generic packages: upload and download through python-gitlab and raw HTTP."""

from __future__ import annotations

import base64
import hashlib
import http.client
import io
import json
import tracemalloc
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from mlflow_gitlab.sandbox import Settings
from mlflow_gitlab.sandbox.backend.projects import GUEST
from tests import gitlab_errors as errors

GENERIC = "/projects/7/packages/generic"
MIB = 1 << 20


def add_member(sandbox, role: int, username: str = "guest") -> str:
    """A new user with an `api` token and `role` on project 7; returns the token."""
    token = f"glpat-{username}-token-0000000000"
    with sandbox.app.store.tx() as db:
        user_id = db.execute("INSERT INTO users (username, name) VALUES (?, ?)",
                             (username, username.title())).lastrowid
        db.execute("INSERT INTO members VALUES (7, ?, ?)", (user_id, role))
        db.execute("INSERT INTO tokens (value, user_id, kind, scopes) "
                   "VALUES (?, ?, 'personal', 'api')", (token, user_id))
    return token


def make_public(sandbox) -> None:
    with sandbox.app.store.tx() as db:
        db.execute("UPDATE projects SET visibility = 'public' WHERE id = 7")


def basic(username: str, password: str) -> dict[str, str]:
    value = base64.b64encode(f"{username}:{password}".encode()).decode()
    return {"Authorization": f"Basic {value}"}


def raw_request(sandbox, method: str, path: str, body: bytes = b"") -> tuple[int, bytes]:
    """A request whose path goes out byte for byte (requests would resolve `..` segments)."""
    conn = http.client.HTTPConnection(urlsplit(sandbox.url).netloc, timeout=30)
    try:
        conn.request(method, "/api/v4" + path, body=body if method == "PUT" else None,
                     headers={"PRIVATE-TOKEN": sandbox.tokens["developer"]})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def put(api, path: str, data: bytes = b"data", **kwargs):
    return api.request("PUT", f"{GENERIC}/{path}", data=data, **kwargs)


def get(api, path: str, **kwargs):
    return api.request("GET", f"{GENERIC}/{path}", **kwargs)


# --- python-gitlab round trips --------------------------------------------------------------


def test_upload_and_download_round_trip_with_python_gitlab(gl, tmp_path):
    project = gl.projects.get(7, lazy=True)
    payload = bytes(range(256)) * 4099  # not a multiple of any chunk size
    source = tmp_path / "model.tar.gz"
    source.write_bytes(payload)
    with source.open("rb") as fh:
        created = project.generic_packages.upload("my-model", "1.2.3", "model.tar.gz", data=fh)
    assert created.attributes["message"] == "201 Created"
    assert project.generic_packages.download("my-model", "1.2.3", "model.tar.gz") == payload

    streamed = io.BytesIO()
    project.generic_packages.download("my-model", "1.2.3", "model.tar.gz", streamed=True,
                                      action=streamed.write)
    assert streamed.getvalue() == payload


def test_select_package_file_returns_the_file_with_its_sha256(gl, sandbox):
    project = gl.projects.get(7, lazy=True)
    payload = b"weights" * 1000
    created = project.generic_packages.upload("my-model", "1.0.0", "w.bin", data=payload,
                                              select="package_file")
    file = created.attributes
    assert file["file_sha256"] == hashlib.sha256(payload).hexdigest()
    assert (file["file_name"], file["size"], file["file_store"]) == ("w.bin", len(payload), 1)
    assert file["file_md5"] is None and file["file_sha1"] is None
    assert file["file"]["url"].endswith(f"/packages/{file['package_id']}/files/{file['id']}/w.bin")
    row = sandbox.app.store.one("SELECT * FROM package_files WHERE id = ?", file["id"])
    assert row["file_sha256"] == file["file_sha256"]


def test_select_package_file_answers_200_and_created_otherwise(api):
    """`present` on a PUT is Grape's 200; `created!` is 201 (`lib/api/generic_packages.rb`)."""
    selected = put(api, "pkg/1.0.0/a.bin", b"a", params={"select": "package_file"})
    assert selected.status_code == 200 and selected.json()["file_name"] == "a.bin"
    plain = put(api, "pkg/1.0.0/b.bin", b"b")
    assert (plain.status_code, plain.json()) == (201, {"message": "201 Created"})


def test_download_headers(api):
    assert put(api, "pkg/1.0.0/report.json", b'{"a": 1}').status_code == 201
    r = get(api, "pkg/1.0.0/report.json")
    assert r.status_code == 200
    assert r.content == b'{"a": 1}'
    assert r.headers["Content-Type"] == "application/octet-stream"
    assert r.headers["Content-Disposition"] == 'attachment; filename="report.json"'
    assert r.headers["X-Checksum-SHA256"] == hashlib.sha256(b'{"a": 1}').hexdigest()


def test_duplicate_upload_appends_and_get_returns_the_newest(gl, sandbox):
    project = gl.projects.get(7, lazy=True)
    project.generic_packages.upload("pkg", "1.0.0", "f.txt", data=b"first")
    project.generic_packages.upload("pkg", "1.0.0", "f.txt", data=b"second")
    assert project.generic_packages.download("pkg", "1.0.0", "f.txt") == b"second"
    packages = sandbox.app.store.all("SELECT * FROM packages WHERE name = 'pkg'")
    assert len(packages) == 1  # the second upload went into the same package
    files = sandbox.app.store.all("SELECT * FROM package_files WHERE package_id = ?",
                                  packages[0]["id"])
    assert [f["size"] for f in files] == [5, 6]


def test_sub_path_is_stored_encoded_and_downloaded_by_the_same_path(api, gl, sandbox):
    assert put(api, "pkg/1.0.0/dir/sub/f.txt", b"nested").status_code == 201
    assert sandbox.app.store.one("SELECT file_name FROM package_files")[0] == "dir%2Fsub%2Ff.txt"
    r = get(api, "pkg/1.0.0/dir/sub/f.txt")
    assert (r.status_code, r.content) == (200, b"nested")
    assert get(api, "pkg/1.0.0/f.txt").status_code == 404  # a different file
    # python-gitlab passes a file name with slashes straight into the URL
    assert gl.projects.get(7, lazy=True).generic_packages.download(
        "pkg", "1.0.0", "dir/sub/f.txt") == b"nested"


def test_empty_file(api):
    assert put(api, "pkg/1.0.0/empty", b"").status_code == 201
    r = get(api, "pkg/1.0.0/empty")
    assert (r.status_code, r.content) == (200, b"")


def test_status_hidden_is_stored_and_still_downloadable(api, sandbox):
    r = put(api, "pkg/1.0.0/a.bin", params={"status": "hidden"})
    assert (r.status_code, r.json()) == (201, {"message": "201 Created"})
    assert sandbox.app.store.one("SELECT status FROM packages")[0] == "hidden"
    assert get(api, "pkg/1.0.0/a.bin").status_code == 200
    put(api, "pkg/1.0.0/b.bin", params={"status": "default"})
    assert sandbox.app.store.one("SELECT status FROM packages")[0] == "default"


def test_unknown_package_or_file_is_404(api):
    put(api, "pkg/1.0.0/a.bin")
    for path in ("nope/1.0.0/a.bin", "pkg/2.0.0/a.bin", "pkg/1.0.0/b.bin"):
        r = get(api, path)
        assert (r.status_code, r.json()) == (404, {"message": "404 Not found"}), path


# --- validation -----------------------------------------------------------------------------


VALID_VERSIONS = ("1.3.350-20201230123456", "1.2.3", "1.2.3g", "1.2", "1.2.bananas",
                  "v1.2.4-build", "d50d836eb3de6177ce6c7a5482f27f9c2c84b672", "1.0_rc+build")


def test_valid_versions(api):
    for version in VALID_VERSIONS:
        assert put(api, f"pkg/{version}/f.bin").status_code == 201, version


INVALID_URLS = [  # (path under /generic, Grape's message)
    ("pkg/..1.2.3/f.bin", "package_version is invalid"),
    ("pkg/%2e%2e%2f1.2.3/f.bin", "package_version is invalid"),
    ("pkg/1.2.3-4/../../f.bin", "path should be a valid file path"),
    ("pkg/1.0.%C3%A9/f.bin", "package_version is invalid"),  # ASCII \w only
    ("my%20pkg/1.0.0/f.bin", "package_name is invalid"),
    ("pkg~1/1.0.0/f.bin", "package_name is invalid"),
    ("my-package%2f%2e%2e%2f/1.0.0/f.bin",
     "package_name is invalid, package_name should be a valid file path"),
    ("pkg/1.0.0/..", "file_name should be a valid file path"),
    ("pkg/1.0.0/%2e%2e%2f.ssh%2fauthorized_keys",
     "file_name is invalid, file_name should be a valid file path"),
    ("pkg/1.0.0/../.ssh%2fauthorized_keys",
     "path should be a valid file path, file_name is invalid"),
    ("pkg/1.0.0/f%C3%A9.bin", "file_name is invalid"),
    ("pkg/1.0.0/f%20.bin", "file_name is invalid"),
    ("pkg/1.0.0/dir/%252e%252e%252fx/f.bin", "path should be a valid file path"),
    ("bad%20name/..1/f.bin", "package_name is invalid, package_version is invalid"),
]


def test_invalid_urls_are_grape_400s(sandbox):
    for path, error in INVALID_URLS:
        for method in ("PUT", "GET"):
            status, body = raw_request(sandbox, method, f"{GENERIC}/{path}", b"x")
            assert (status, json.loads(body)) == (400, {"error": error}), (method, path)
    assert sandbox.app.store.one("SELECT COUNT(*) FROM packages")[0] == 0


def test_invalid_status_or_select(api, sandbox):
    for params, error in [
        ({"status": "processing"}, "status does not have a valid value"),
        ({"status": ""}, "status does not have a valid value"),
        ({"select": "package"}, "select does not have a valid value"),
        ({"status": "x", "select": "y"},
         "status does not have a valid value, select does not have a valid value"),
    ]:
        r = put(api, "pkg/1.0.0/f.bin", params=params)
        assert (r.status_code, r.json()) == (400, {"error": error}), params
    assert sandbox.app.store.one("SELECT COUNT(*) FROM package_files")[0] == 0


class TestSizeLimit:
    """`generic_max_file_size`: above it Workhorse answers (413, or 500 for a Content-Length
    on older GitLab) before Rails sees the request, and nothing is stored."""

    @pytest.fixture
    def sandbox_settings(self) -> Settings:
        return Settings(generic_max_file_size=1024)

    def test_at_the_limit_is_accepted(self, api):
        assert put(api, "pkg/1.0.0/f.bin", b"x" * 1024).status_code == 201

    def test_content_length_over_the_limit_is_413(self, api, sandbox):
        r = put(api, "pkg/1.0.0/f.bin", b"x" * 1025)
        assert (r.status_code, r.text) == (
            413, "RequestBody: upload failed: the upload size 1025 is over maximum of 1024 "
                 "bytes: entity is too large\n")
        assert r.headers["Content-Type"].startswith("text/plain")
        assert sandbox.app.store.one("SELECT COUNT(*) FROM packages")[0] == 0

    def test_older_workhorse_answers_500_to_a_content_length(self, api, sandbox):
        sandbox.app.settings.workhorse_length_status = 500
        r = put(api, "pkg/1.0.0/f.bin", b"x" * 1025)
        assert (r.status_code, r.text) == (500, "Internal Server Error\n")

    def test_a_stream_past_the_limit_is_413(self, api, sandbox):
        sandbox.app.settings.workhorse_length_status = 500  # a stream is 413 either way
        r = put(api, "pkg/1.0.0/f.bin", iter([b"x" * 1000, b"x" * 1000]))
        assert (r.status_code, r.text) == (413, "RequestBody: upload failed: entity is too "
                                                "large\n")
        store = sandbox.app.store
        assert [p for p in store.files_dir.rglob("*") if p.is_file()] == []
        assert list(store.tmp_dir.iterdir()) == []


class TestDuplicatesRefused:
    """A group with "Allow duplicates" off: a stored file name is 400, whatever its bytes."""

    @pytest.fixture
    def sandbox_settings(self) -> Settings:
        return Settings(generic_duplicates=False)

    def test_a_second_file_of_a_name_is_400_and_the_first_stays(self, api, sandbox):
        assert put(api, "pkg/1.0.0/dir/f.bin", b"one").status_code == 201
        for body in (b"one", b"two"):
            r = put(api, "pkg/1.0.0/dir/f.bin", body)
            assert (r.status_code, r.json()) == (
                400, {"message": "400 Bad request - Duplicate package is not allowed"})
        assert put(api, "pkg/1.0.0/g.bin", b"two").status_code == 201
        assert sandbox.app.store.one("SELECT COUNT(*) FROM package_files")[0] == 2
        assert get(api, "pkg/1.0.0/dir/f.bin").content == b"one"


# --- streaming ------------------------------------------------------------------------------


def test_large_upload_streams_without_buffering_the_body(api, sandbox):
    """64 MiB from a generator (chunked): Python memory must stay far below the body size."""
    chunk = b"\x5a" * MIB
    expected = hashlib.sha256()
    for _ in range(64):
        expected.update(chunk)

    def body() -> Iterator[bytes]:
        for _ in range(64):
            yield chunk

    tracemalloc.start()
    try:
        baseline = tracemalloc.get_traced_memory()[0]
        r = put(api, "big/1.0.0/blob.bin", body(), params={"select": "package_file"})
        peak = tracemalloc.get_traced_memory()[1] - baseline
    finally:
        tracemalloc.stop()
    assert r.status_code == 200  # `select=package_file`: GitLab presents the file with 200
    assert r.json()["size"] == 64 * MIB
    assert r.json()["file_sha256"] == expected.hexdigest()
    assert peak < 16 * MIB, f"peak {peak / MIB:.1f} MiB while receiving 64 MiB"


# --- token transports -----------------------------------------------------------------------


def _transports(sandbox) -> dict[str, dict]:
    pat, job = sandbox.tokens["developer"], sandbox.tokens["job"]
    return {
        "private_token header": {"headers": {"PRIVATE-TOKEN": pat}},
        "private_token query": {"params": {"private_token": pat}},
        "bearer": {"headers": {"Authorization": f"Bearer {pat}"}},
        "basic with a PAT, any username": {"headers": basic("whoever", pat)},
        "basic gitlab-ci-token": {"headers": basic("gitlab-ci-token", job)},
        "JOB-TOKEN header": {"headers": {"JOB-TOKEN": job}},
        "job_token query": {"params": {"job_token": job}},
    }


def test_every_token_transport_uploads_and_downloads(api, sandbox):
    for transport, how in _transports(sandbox).items():
        payload = transport.encode()
        r = put(api, "pkg/1.0.0/f.bin", payload, token=None, **how)
        assert (r.status_code, r.json()) == (201, {"message": "201 Created"}), transport
        r = get(api, "pkg/1.0.0/f.bin", token=None, **how)
        assert (r.status_code, r.content) == (200, payload), transport


def test_python_gitlab_with_a_job_token(sandbox):
    import gitlab

    gl = gitlab.Gitlab(sandbox.url, job_token=sandbox.tokens["job"])
    project = gl.projects.get(7, lazy=True)
    project.generic_packages.upload("ci", "1.0.0", "out.txt", data=b"from CI")
    assert project.generic_packages.download("ci", "1.0.0", "out.txt") == b"from CI"


# --- auth matrix ----------------------------------------------------------------------------

UNAUTHORIZED = (401, errors.UNAUTHORIZED)
FORBIDDEN = (403, errors.FORBIDDEN)
PROJECT_NOT_FOUND = (404, errors.PROJECT_NOT_FOUND)
INSUFFICIENT_SCOPE = (403, errors.INSUFFICIENT_SCOPE)


def outcome(r) -> tuple[int, object]:
    return r.status_code, (r.json() if r.status_code != 200 else r.content)


AUTH_MATRIX = [  # (token, PUT outcome, GET outcome) on private project 7
    (None, UNAUTHORIZED, PROJECT_NOT_FOUND),
    ("glpat-not-a-real-token", UNAUTHORIZED, UNAUTHORIZED),
    ("read_api", INSUFFICIENT_SCOPE, (200, b"seed")),
    ("read_user", INSUFFICIENT_SCOPE, INSUFFICIENT_SCOPE),
    ("non_member", PROJECT_NOT_FOUND, PROJECT_NOT_FOUND),
    ("reporter", FORBIDDEN, (200, b"seed")),
    ("maintainer", (201, {"message": "201 Created"}), (200, b"seed")),
]


def test_auth_matrix_on_a_private_project(api):
    assert put(api, "pkg/1.0.0/f.bin", b"seed").status_code == 201  # as the developer
    for token, put_outcome, get_outcome in AUTH_MATRIX:
        assert outcome(put(api, "pkg/1.0.0/g.bin", token=token)) == put_outcome, token
        assert outcome(get(api, "pkg/1.0.0/f.bin", token=token)) == get_outcome, token


def test_guest_can_neither_upload_nor_download_on_a_private_project(api, sandbox):
    put(api, "pkg/1.0.0/f.bin")
    guest = add_member(sandbox, GUEST)
    assert outcome(put(api, "pkg/1.0.0/g.bin", token=guest)) == FORBIDDEN
    assert outcome(get(api, "pkg/1.0.0/f.bin", token=guest)) == FORBIDDEN


def test_public_project_reads_are_open_writes_are_not(api, sandbox):
    put(api, "pkg/1.0.0/f.bin", b"open")
    make_public(sandbox)
    guest = add_member(sandbox, GUEST)
    for token in (None, "non_member", guest):
        assert outcome(get(api, "pkg/1.0.0/f.bin", token=token)) == (200, b"open")
    assert outcome(put(api, "pkg/1.0.0/g.bin", token=None)) == UNAUTHORIZED
    assert outcome(put(api, "pkg/1.0.0/g.bin", token="non_member")) == FORBIDDEN
    assert outcome(put(api, "pkg/1.0.0/g.bin", token=guest)) == FORBIDDEN


def test_job_token_of_a_job_that_is_not_running_is_401(api, sandbox):
    stale = sandbox.app.store.one("SELECT value FROM tokens WHERE job_id = 5003")["value"]
    r = put(api, "pkg/1.0.0/f.bin", token=None, headers={"JOB-TOKEN": stale})
    assert outcome(r) == UNAUTHORIZED
    r = put(api, "pkg/1.0.0/f.bin", token=None, headers=basic("gitlab-ci-token", stale))
    assert outcome(r) == UNAUTHORIZED


def test_project_by_encoded_path(api):
    r = api.request("PUT", "/projects/ml-team%2Fdemo-project/packages/generic/p/1.0.0/f",
                    data=b"by path")
    assert r.status_code == 201
    assert get(api, "p/1.0.0/f").content == b"by path"


def test_other_methods_are_the_catch_alls_404(api):
    """Grape's router answers a known path's wrong method with the API's catch-all route
    (`route :any, '*path'` in `lib/api/api.rb`) before its own 405."""
    r = api.request("DELETE", f"{GENERIC}/pkg/1.0.0/f.bin")
    assert (r.status_code, r.json()) == (404, {"error": "404 Not Found"})


# --- deploy tokens (`deploy_token_allowed: true` in lib/api/generic_packages.rb) -------------


def test_deploy_tokens_read_and_write_by_their_scopes(sandbox, api):
    from mlflow_gitlab.sandbox.backend import deploy_tokens

    url = f"{GENERIC}/pkg/1.0.0/f.bin"
    reader = sandbox.deploy_token  # read_package_registry only
    writer = deploy_tokens.create(sandbox.app.store, 7, (deploy_tokens.READ_PACKAGES,
                                                         deploy_tokens.WRITE_PACKAGES))
    r = api.request("PUT", url, token=None, data=b"w", headers={"DEPLOY-TOKEN": writer["token"]})
    assert (r.status_code, r.json()) == (201, {"message": "201 Created"})
    r = api.request("GET", url, token=None, headers={"DEPLOY-TOKEN": reader["token"]})
    assert (r.status_code, r.content) == (200, b"w")
    r = api.request("GET", url, token=None, headers=basic(reader["username"], reader["token"]))
    assert (r.status_code, r.content) == (200, b"w")
    r = api.request("PUT", url, token=None, data=b"x", headers={"DEPLOY-TOKEN": reader["token"]})
    assert (r.status_code, r.json()) == (403, {"message": "403 Forbidden"})


def test_unknown_and_foreign_deploy_tokens(sandbox, api):
    from mlflow_gitlab.sandbox.backend import deploy_tokens

    url = f"{GENERIC}/pkg/1.0.0/f.bin"
    assert api.request("PUT", url, data=b"w").status_code == 201
    # an unknown deploy token is no credential: the caller is anonymous
    r = api.request("PUT", url, token=None, data=b"x", headers={"DEPLOY-TOKEN": "gldt-nope"})
    assert (r.status_code, r.json()) == (401, {"message": "401 Unauthorized"})
    r = api.request("GET", url, token=None, headers={"DEPLOY-TOKEN": "gldt-nope"})
    assert (r.status_code, r.json()) == (404, errors.PROJECT_NOT_FOUND)
    other = deploy_tokens.create(sandbox.app.store, 99)  # another project's
    r = api.request("GET", url, token=None, headers={"DEPLOY-TOKEN": other["token"]})
    assert (r.status_code, r.json()) == (404, errors.PROJECT_NOT_FOUND)
