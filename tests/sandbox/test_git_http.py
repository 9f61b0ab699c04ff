"""Project repositories over git smart HTTP and the raw file route, with the stock git client."""

from __future__ import annotations

import base64
import gzip
import os
import subprocess
from pathlib import Path

import pytest
import requests

from mlflow_gitlab.sandbox import Sandbox, git_repos
from mlflow_gitlab.sandbox.backend.projects import MAINTAINER
from tests import secrets_scan

CATALOG = "mlflow-gitlab/components"


def git(*args: str, cwd: Path, token: str | None = None, user: str = "oauth2",
        check: bool = True) -> subprocess.CompletedProcess:
    """The git CLI with no prompt; a token goes in a header (never in a URL or a file)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(GIT_TERMINAL_PROMPT="0", GIT_CONFIG_NOSYSTEM="1", HOME=str(cwd),
               GIT_AUTHOR_NAME="dev", GIT_AUTHOR_EMAIL="dev@example.com",
               GIT_COMMITTER_NAME="dev", GIT_COMMITTER_EMAIL="dev@example.com")
    if token:
        basic = base64.b64encode(f"{user}:{token}".encode()).decode()
        env.update(GIT_CONFIG_COUNT="1", GIT_CONFIG_KEY_0="http.extraHeader",
                   GIT_CONFIG_VALUE_0=f"Authorization: Basic {basic}")
    done = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=60, check=False)
    assert not check or done.returncode == 0, done.stderr
    return done


@pytest.fixture
def catalog(sandbox: Sandbox) -> dict[str, str]:
    """A public project with a Maintainer project access token (`api`, `write_repository`)
    and a Reporter one (`read_repository`)."""
    store = sandbox.app.store
    project_id = git_repos.create_project(store, CATALOG, "public")
    tokens = {"write": git_repos.create_project_token(store, project_id,
                                                      "api write_repository", MAINTAINER),
              "read": git_repos.create_project_token(store, project_id, "read_repository", 20)}
    secrets_scan.remember(tokens.values())
    return {**tokens, "url": f"{sandbox.url}/{CATALOG}.git"}


def work_tree(root: Path, files: dict[str, str]) -> Path:
    work = root / "work"
    work.mkdir()
    git("init", "-q", "-b", "main", cwd=work)
    for name, text in files.items():
        (work / name).parent.mkdir(parents=True, exist_ok=True)
        (work / name).write_text(text)
    git("add", "-A", cwd=work)
    git("commit", "-qm", "c", cwd=work)
    git("tag", "-a", "0.1.0", "-m", "0.1.0", cwd=work)
    return work


def test_push_with_a_token_then_a_partial_clone_and_raw_files_anonymously(
        sandbox: Sandbox, catalog: dict[str, str], tmp_path: Path):
    work = work_tree(tmp_path, {"templates/train.yml": "spec: {}\n", "README.md": "# c\n"})
    git("push", "-q", catalog["url"], "HEAD:refs/heads/main", "refs/tags/0.1.0", cwd=work,
        token=catalog["write"])
    # gitlab-ci-local's `include: project:` fetch, on a public project: no credentials
    git("clone", "-q", "--branch", "0.1.0", "-n", "--depth=1", "--filter=tree:0",
        catalog["url"], "clone", cwd=tmp_path)
    git("sparse-checkout", "set", "--no-cone", "templates/train.yml", cwd=tmp_path / "clone")
    git("checkout", "-q", cwd=tmp_path / "clone")
    assert (tmp_path / "clone" / "templates" / "train.yml").read_text() == "spec: {}\n"
    assert not (tmp_path / "clone" / "README.md").exists()

    raw = f"{sandbox.url}/{CATALOG}/-/raw"
    answer = requests.get(f"{raw}/0.1.0/templates/train.yml", timeout=30)
    assert (answer.status_code, answer.content) == (200, b"spec: {}\n")
    assert answer.headers["Content-Type"] == "text/plain; charset=utf-8"
    sha = git("rev-parse", "HEAD", cwd=work).stdout.strip()
    for ref in ("main", sha):
        assert requests.get(f"{raw}/{ref}/README.md", timeout=30).content == b"# c\n"
    for missing in (f"{raw}/0.1.0/templates/nope.yml", f"{raw}/9.9.9/templates/train.yml",
                    f"{sandbox.url}/nobody/nothing/-/raw/main/README.md"):
        assert requests.get(missing, timeout=30).status_code == 404, missing


def test_push_refusals(sandbox: Sandbox, catalog: dict[str, str], tmp_path: Path):
    work = work_tree(tmp_path, {"a.txt": "a\n"})
    anonymous = requests.get(f"{catalog['url']}/info/refs?service=git-receive-pack",
                             timeout=30)
    assert anonymous.status_code == 401
    assert anonymous.headers["WWW-Authenticate"] == 'Basic realm="GitLab"'
    assert anonymous.text.startswith("HTTP Basic: Access denied.")
    failed = git("push", catalog["url"], "HEAD:refs/heads/main", cwd=work, check=False)
    assert failed.returncode != 0
    for token, user, message in (
            (catalog["read"], "any", "You are not allowed to upload code."),
            (sandbox.tokens["developer"], "dev", "not allowed to push code to this project"),
            (sandbox.tokens["job"], "gitlab-ci-token", "You are not allowed to upload code.")):
        failed = git("push", catalog["url"], "HEAD:refs/heads/main", cwd=work, token=token,
                     user=user, check=False)
        assert failed.returncode != 0 and message in failed.stderr, (user, failed.stderr)
    unknown = requests.get(f"{catalog['url']}/info/refs?service=git-upload-pack",
                           auth=("oauth2", "glpat-not-a-token-at-all"), timeout=30)
    assert (unknown.status_code, unknown.headers["WWW-Authenticate"]) == (401, anonymous.headers[
        "WWW-Authenticate"])  # bad credentials are refused even where none are needed
    assert not git_repos.resolves(git_repos.path(sandbox.app.store, CATALOG), "main")


def test_private_project_needs_credentials_and_a_role(sandbox: Sandbox, tmp_path: Path):
    """The seeded private project: pushed by its Developer, cloned with its job's token."""
    url = f"{sandbox.url}/{sandbox.project_path}.git"
    work = work_tree(tmp_path, {"train.py": "print(1)\n"})
    git("push", "-q", url, "HEAD:refs/heads/main", cwd=work, token=sandbox.tokens["developer"])
    git("clone", "-q", url, "by-job", cwd=tmp_path, token=sandbox.tokens["job"],
        user="gitlab-ci-token")
    assert (tmp_path / "by-job" / "train.py").read_text() == "print(1)\n"

    refs = f"{url}/info/refs?service=git-upload-pack"
    assert requests.get(refs, timeout=30).status_code == 401
    basic = {"non_member": (404, "could not be found"),
             "read_user": (403, "You are not allowed to download code."),
             "reporter": (200, "")}
    for key, (status, text) in basic.items():
        answer = requests.get(refs, auth=("someone", sandbox.tokens[key]), timeout=30)
        assert answer.status_code == status and text in answer.text, key
    assert requests.head(refs, auth=("dev", sandbox.tokens["developer"]),
                         timeout=30).status_code == 403
    assert requests.get(f"{url}/info/refs", auth=("dev", sandbox.tokens["developer"]),
                        timeout=30).status_code == 403  # no dumb protocol

    raw = f"{sandbox.url}/{sandbox.project_path}/-/raw/main/train.py"
    assert requests.get(raw, allow_redirects=False, timeout=30).status_code == 302
    answer = requests.get(raw, headers={"PRIVATE-TOKEN": sandbox.tokens["developer"]},
                          timeout=30)
    assert (answer.status_code, answer.content) == (200, b"print(1)\n")
    answer = requests.get(raw, headers={"PRIVATE-TOKEN": sandbox.tokens["non_member"]},
                          timeout=30)
    assert answer.status_code == 404


def test_a_gzip_request_body_and_an_empty_repository(sandbox: Sandbox, catalog: dict[str, str],
                                                     tmp_path: Path):
    empty = requests.get(f"{sandbox.url}/{sandbox.project_path}.git/info/refs"
                         "?service=git-upload-pack", auth=("dev", sandbox.tokens["developer"]),
                         timeout=30)
    assert (empty.status_code, empty.text) == (
        404, "A repository for this project does not exist yet.\n")
    work = work_tree(tmp_path, {"a.txt": "a\n"})
    git("push", "-q", catalog["url"], "HEAD:refs/heads/main", cwd=work, token=catalog["write"])
    sha = git("rev-parse", "HEAD", cwd=work).stdout.strip()
    want = f"want {sha}\n"
    body = f"{len(want) + 4:04x}{want}00000009done\n".encode()
    answer = requests.post(f"{catalog['url']}/git-upload-pack", data=gzip.compress(body),
                           headers={"Content-Type": "application/x-git-upload-pack-request",
                                    "Content-Encoding": "gzip"}, timeout=30)
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == "application/x-git-upload-pack-result"
    assert answer.content.startswith(b"0008NAK\nPACK")
