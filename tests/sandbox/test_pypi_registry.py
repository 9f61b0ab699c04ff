"""The sandbox's PyPI registry as users reach it: real `twine upload` and `pip download`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from mlflow_gitlab.sandbox import Settings, running_sandbox
from mlflow_gitlab.sandbox.backend import deploy_tokens
from tests import pypi_dist, secrets_scan

TWINE = str(Path(sys.executable).with_name("twine"))


@pytest.fixture(scope="session")
def dist(tmp_path_factory) -> list[Path]:
    """One wheel and one sdist of a throwaway package, built once per session."""
    return pypi_dist.build(tmp_path_factory.mktemp("dist"))


def registry(sandbox) -> str:
    return f"{sandbox.api_url}/projects/{sandbox.project_id}/packages/pypi"


def twine(sandbox, username: str, password: str, files: list[Path], *extra: str
          ) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, TWINE_USERNAME=username, TWINE_PASSWORD=password,
               TWINE_NON_INTERACTIVE="1", PYTHON_KEYRING_BACKEND="keyring.backends.null.Keyring",
               NO_COLOR="1")
    return subprocess.run([TWINE, "upload", "--disable-progress-bar", "--repository-url",
                           registry(sandbox), *extra, *map(str, files)],
                          env=env, capture_output=True, text=True, timeout=60)


def pip_download(sandbox, username: str, password: str, dest: Path, requirement: str
                 ) -> subprocess.CompletedProcess[str]:
    host = sandbox.url.split("//", 1)[1]
    index = (f"http://{username}:{password}@{host}/api/v4/projects/{sandbox.project_id}"
             "/packages/pypi/simple")
    return subprocess.run([sys.executable, "-m", "pip", "download", "--isolated", "--no-deps",
                           "--no-cache-dir", "--disable-pip-version-check", "-d", str(dest),
                           "--index-url", index, requirement],
                          capture_output=True, text=True, timeout=60)


def test_twine_upload_with_the_job_token_then_pip_downloads_with_a_personal_token(
        sandbox, dist, tmp_path):
    up = twine(sandbox, "gitlab-ci-token", sandbox.tokens["job"], dist)
    assert up.returncode == 0, up.stdout + up.stderr
    got = pip_download(sandbox, "anyone", sandbox.tokens["developer"], tmp_path / "dl",
                       f"demo-pkg=={pypi_dist.VERSION}")
    assert got.returncode == 0, got.stdout + got.stderr
    wheel = tmp_path / "dl" / dist[0].name
    assert wheel.read_bytes() == dist[0].read_bytes()  # pip checked the #sha256= fragment


def test_simple_pages_render_as_gitlab_renders_them(sandbox, dist):
    assert twine(sandbox, "me", sandbox.tokens["developer"], dist).returncode == 0
    auth = ("me", sandbox.tokens["developer"])
    page = requests.get(registry(sandbox) + "/simple/demo-pkg/", auth=auth, timeout=10)
    assert page.status_code == 200
    assert page.headers["Content-Type"] == "text/html; charset=utf-8"
    row = sandbox.app.store.one("SELECT file_sha256 FROM package_files WHERE file_name = ?",
                                dist[0].name)
    href = (f"{registry(sandbox)}/files/{row['file_sha256']}/{dist[0].name}"
            f"#sha256={row['file_sha256']}")
    assert (f'<a href="{href}" data-requires-python="&gt;=3.8">{dist[0].name}</a>'
            in page.text)
    assert page.text.startswith("<!DOCTYPE html>\n        <html>\n")  # `<<-HTML.lstrip`
    index = requests.get(registry(sandbox) + "/simple", auth=auth, timeout=10)
    assert f'href="{registry(sandbox)}/simple/demo-pkg"' in index.text
    assert "<title>Links for demo-project</title>" in index.text
    # Only the stored name is normalised: an un-normalised request finds nothing, as on GitLab.
    odd = requests.get(registry(sandbox) + "/simple/Demo_Pkg", auth=auth, timeout=10)
    assert (odd.status_code, odd.json()) == (404, {"message": "404 Package Not Found"})
    wrong_sha = requests.get(f"{registry(sandbox)}/files/{'0' * 64}/{dist[0].name}",
                             auth=auth, timeout=10)
    assert wrong_sha.status_code == 404


def test_a_second_upload_of_a_file_is_refused(sandbox, dist):
    token = sandbox.tokens["developer"]
    assert twine(sandbox, "me", token, dist).returncode == 0
    again = twine(sandbox, "me", token, dist[:1])
    assert again.returncode != 0 and "400" in again.stdout + again.stderr
    stored = sandbox.app.store.one("SELECT name FROM packages")["name"]  # as twine sent it
    form = {"name": stored, "version": pypi_dist.VERSION}
    raw = requests.post(registry(sandbox), auth=("me", token), data=form, timeout=10,
                        files={"content": (dist[0].name, dist[0].read_bytes())})
    assert (raw.status_code, raw.json()) == (400, {
        "message": "400 Bad request - Validation failed: File name has already been taken"})
    assert len(sandbox.app.store.all("SELECT * FROM package_files")) == 2


def test_wrong_credentials_as_gitlab_answers_them(sandbox, dist, tmp_path):
    url = registry(sandbox) + "/simple/demo-pkg"
    anonymous = requests.get(url, timeout=10)
    assert anonymous.status_code == 401
    assert anonymous.headers["WWW-Authenticate"] == 'Basic realm="GitLab Packages Registry"'
    # An unknown access token makes an anonymous caller; a bad job token is refused outright.
    assert requests.get(url, auth=("me", "glpat-wrong-token"), timeout=10).status_code == 401
    assert requests.get(url, auth=("gitlab-ci-token", "x" * 20), timeout=10).status_code == 401
    assert requests.get(url, headers={"PRIVATE-TOKEN": "glpat-wrong-token"},
                        timeout=10).status_code == 401
    assert requests.get(url, headers={"JOB-TOKEN": sandbox.tokens["job"]},
                        timeout=10).status_code == 401  # Basic only for job tokens
    outsider = requests.get(url, auth=("me", sandbox.tokens["non_member"]), timeout=10)
    assert (outsider.status_code, outsider.json()) == (404, {"message": "404 Not Found"})
    unknown = requests.get(registry(sandbox).replace("/7/", "/999/") + "/simple", timeout=10)
    assert unknown.status_code == 404
    bad = twine(sandbox, "me", "glpat-wrong-token", dist[:1])
    assert bad.returncode != 0 and "401" in bad.stdout + bad.stderr
    reporter = twine(sandbox, "me", sandbox.tokens["reporter"], dist[:1])
    assert reporter.returncode != 0 and "403" in reporter.stdout + reporter.stderr
    read_api = requests.post(registry(sandbox), auth=("me", sandbox.tokens["read_api"]),
                             data={"name": "x", "version": "1"}, timeout=10)
    assert (read_api.status_code, read_api.json()["error"]) == (403, "insufficient_scope")
    assert pip_download(sandbox, "me", "glpat-wrong-token", tmp_path / "dl",
                        "demo-pkg").returncode != 0


def test_deploy_token_reads_but_cannot_publish(sandbox, dist, tmp_path):
    deploy = sandbox.deploy_token
    refused = twine(sandbox, deploy["username"], deploy["token"], dist[:1])
    assert refused.returncode != 0 and "403" in refused.stdout + refused.stderr
    assert twine(sandbox, "gitlab-ci-token", sandbox.tokens["job"], dist).returncode == 0
    got = pip_download(sandbox, deploy["username"], deploy["token"], tmp_path / "dl",
                       "demo-pkg")
    assert got.returncode == 0, got.stdout + got.stderr
    # GitLab finds a deploy token by its secret alone, and in a DEPLOY-TOKEN header too.
    url = registry(sandbox) + "/simple/demo-pkg"
    assert requests.get(url, auth=("someone", deploy["token"]), timeout=10).status_code == 200
    assert requests.get(url, headers={"DEPLOY-TOKEN": deploy["token"]},
                        timeout=10).status_code == 200
    assert requests.get(url, auth=(deploy["username"], "gldt-wrong"), timeout=10
                        ).status_code == 401
    writer = deploy_tokens.create(sandbox.app.store, sandbox.project_id,
                                  (deploy_tokens.WRITE_PACKAGES,))
    v2 = pypi_dist.build(tmp_path / "v2", "0.2.0")
    ok = twine(sandbox, writer["username"], writer["token"], v2)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    # a token that may write may read (`Packages::Policies::ProjectPolicy`)
    got = pip_download(sandbox, writer["username"], writer["token"], tmp_path / "dl2",
                       "demo-pkg==0.2.0")
    assert got.returncode == 0, got.stdout + got.stderr


def test_gitlab_ci_token_without_a_password_is_anonymous(sandbox, dist):
    """`find_user_from_job_token_basic_auth` needs both; without a password no job token is
    tried, so a public project's index is open, where a bad job token would be 401."""
    assert twine(sandbox, "gitlab-ci-token", sandbox.tokens["job"], dist).returncode == 0
    with sandbox.app.store.tx() as db:
        db.execute("UPDATE projects SET visibility = 'public' WHERE id = ?",
                   (sandbox.project_id,))
    url = registry(sandbox) + "/simple/demo-pkg"
    assert requests.get(url, auth=("gitlab-ci-token", ""), timeout=10).status_code == 200
    assert requests.get(url, auth=("gitlab-ci-token", "glcbt-wrong"), timeout=10
                        ).status_code == 401


def test_upload_validation_as_gitlab_answers_it(sandbox, dist):
    auth = ("me", sandbox.tokens["developer"])

    def post(**fields):
        return requests.post(registry(sandbox), auth=auth, data=fields, timeout=10,
                             files={"content": (dist[0].name, b"x")})

    assert post(version="1.0").json() == {"error": "name is missing"}
    assert post(name="p", version="1.0", sha256_digest="a" * 63 + "%").json() == {
        "error": "sha256_digest is invalid"}
    assert post(name=".$/@!^*", version="1.0").json() == {
        "message": "400 Bad request - Validation failed: Name is invalid"}
    assert post(name="p", version="one").json() == {
        "message": "400 Bad request - Validation failed: Version is invalid"}
    assert sandbox.app.store.all("SELECT * FROM packages") == []


def test_metadata_past_its_column_is_cut_and_digests_are_only_what_was_declared(sandbox, dist):
    """`truncate_fields`, and `file_params`: GitLab computes no digest a client left out."""
    auth = ("me", sandbox.tokens["developer"])
    long = ">=" + "3" * 300
    cut = requests.post(registry(sandbox), auth=auth, timeout=10,
                        data={"name": "long-meta", "version": "1.0", "requires_python": long},
                        files={"content": ("long_meta-1.0.tar.gz", b"x")})
    assert cut.status_code == 201, cut.text
    page = requests.get(registry(sandbox) + "/simple/long-meta", auth=auth, timeout=10).text
    assert f'data-requires-python="&gt;={"3" * 250}..."' in page  # 255 characters in all
    # No sha256_digest: the index links an empty digest, as GitLab's does, and pip cannot
    # fetch such a link.
    assert "/files//long_meta-1.0.tar.gz#sha256=" in page


def test_a_file_over_the_limit_is_refused(tmp_path, dist):
    with running_sandbox(tmp_path / "data", Settings(pypi_max_file_size=100)) as sandbox:
        secrets_scan.remember(secrets_scan.token_values(sandbox))
        r = requests.post(registry(sandbox), auth=("me", sandbox.tokens["developer"]),
                          data={"name": "p", "version": "1.0"}, timeout=10,
                          files={"content": (dist[0].name, dist[0].read_bytes())})
    assert (r.status_code, r.json()) == (400, {"message": "400 Bad request - File is too large"})
