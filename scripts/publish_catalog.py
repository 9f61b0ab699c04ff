"""Publish ci-components/ as the CI/CD catalog project, tagged with the package's version.

The catalog project is a git project of its own: `templates/` (the components), a README,
a licence and a `.gitlab-ci.yml` whose tag pipeline creates the catalog release. This script
builds that tree, commits it on the project's default branch and pushes the version tag; the
tag pipeline then publishes the version (GitLab creates a catalog release only from a
`release:` job of a tag pipeline, `doc/ci/components/index.md`). It also sets the project
description the catalog lists.

    python scripts/publish_catalog.py --dry-run DIR        # build the tree in DIR, no git
    python scripts/publish_catalog.py --remote URL [--branch main] [--project-api URL] [--tag T]

The catalog takes semantic versions only, so a prerelease is tagged as its release tag has it
(`1.0.0-rc.1`), not as the package's PEP 440 version (`1.0.0rc1`); pip and uv take either.

The token for the push and the description (`CATALOG_TOKEN`, an access token of the catalog
project with `write_repository` and `api`) is read from the environment and sent as an HTTP
header, never put in a URL or an argument.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "ci-components"
VERSION = re.search(r'^version = "([^"]+)"', (ROOT / "pyproject.toml").read_text(), re.M)[1]
SEMVER = re.compile(r"\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?")  # what the catalog publishes
DESCRIPTION = ("CI/CD components for MLflow experiments in GitLab CI: tracked training, "
               "merge-request tuning, MR reports and semver model releases (mlflow-gitlab).")
MIT = """MIT License

Copyright (c) the mlflow-gitlab authors

Permission is hereby granted, free of charge, to any person obtaining a copy of this software
and associated documentation files (the "Software"), to deal in the Software without
restriction, including without limitation the rights to use, copy, modify, merge, publish,
distribute, sublicense, and/or sell copies of the Software, and to permit persons to whom the
Software is furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all copies or
substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED, INCLUDING
BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND
NONINFRINGEMENT. IN NO EVENT SHALL THE AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM,
DAMAGES OR OTHER LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE SOFTWARE.
"""
# The catalog project's own pipeline: on a semver tag, publish the catalog version.
CATALOG_CI = """\
# Written by mlflow-gitlab's scripts/publish_catalog.py: a semver tag publishes the catalog
# version of these components (their README, templates/ and the project description).
create-release:
  stage: deploy
  image: registry.gitlab.com/gitlab-org/cli:latest  # glab: `release:` uses it since GitLab 18.0
  rules:
    - if: $CI_COMMIT_TAG =~ /^\\d+\\.\\d+\\.\\d+(-[0-9A-Za-z.-]+)?$/
  script: echo "Publishing components $CI_COMMIT_TAG"
  release:
    tag_name: $CI_COMMIT_TAG
    description: "mlflow-gitlab $CI_COMMIT_TAG components (installs mlflow-gitlab==$CI_COMMIT_TAG)"
"""


def build_tree(into: Path) -> list[str]:
    """Write the catalog project's files into `into` (emptied first); return their paths."""
    if into.exists():
        shutil.rmtree(into)
    (into / "templates").mkdir(parents=True)
    for component in sorted((SOURCE / "templates").glob("*.yml")):
        shutil.copy2(component, into / "templates" / component.name)
    readme = (SOURCE / "README.md").read_text()
    # The links into the mlflow-gitlab repository do not exist in the catalog project.
    readme = readme.replace("[mlflow-gitlab](../README.md)",
                            "[mlflow-gitlab](https://pypi.org/project/mlflow-gitlab/)")
    (into / "README.md").write_text(readme)
    (into / "LICENSE").write_text(MIT)
    (into / ".gitlab-ci.yml").write_text(CATALOG_CI)
    return sorted(str(p.relative_to(into)) for p in into.rglob("*") if p.is_file())


def publish(remote: str, branch: str, token: str | None, tag: str = VERSION) -> None:
    """Commit the catalog tree on `branch` of `remote` and push it with the version `tag`."""
    if not push_tree(remote, branch, tag, token, build_tree,
                     f"mlflow-gitlab {tag} components"):
        print(f"catalog {tag} is already published", file=sys.stderr)
        return
    print(f"published catalog {tag} to {re.sub(r'//[^@/]*@', '//', remote)}")


def push_tree(remote: str, branch: str, tag: str, token: str | None,
              build: Callable[[Path], object], message: str) -> bool:
    """Commit the tree `build` writes into a folder on `branch` of `remote` (on top of its
    history) and push it with the annotated `tag`; False, pushing nothing, when the tag
    exists. The token goes in an HTTP header, never in a URL or an argument."""
    env = dict(os.environ)
    if token:
        basic = base64.b64encode(f"oauth2:{token}".encode()).decode()
        env.update({"GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "http.extraHeader",
                    "GIT_CONFIG_VALUE_0": f"Authorization: Basic {basic}"})
    with tempfile.TemporaryDirectory(prefix="publish-") as tmp:
        work = Path(tmp) / "work"

        def git(*args: str, cwd: Path = work) -> str:
            return subprocess.run(["git", *args], cwd=cwd, env=env, check=True, text=True,
                                  capture_output=True).stdout

        git("init", "--quiet", "--initial-branch", branch, str(work), cwd=Path(tmp))
        git("remote", "add", "origin", remote)
        if git("ls-remote", "--heads", "origin", branch).strip():
            git("fetch", "--quiet", "--depth", "1", "origin", branch)
            git("reset", "--quiet", "--soft", "FETCH_HEAD")
        if git("ls-remote", "--tags", "origin", f"refs/tags/{tag}").strip():
            return False
        for old in work.iterdir():  # the tree is rebuilt from scratch, .git kept
            if old.name != ".git":
                shutil.rmtree(old) if old.is_dir() else old.unlink()
        staging = Path(tmp) / "tree"
        build(staging)
        shutil.copytree(staging, work, dirs_exist_ok=True)
        git("add", "--all")
        git("-c", "user.name=mlflow-gitlab release", "-c", "user.email=noreply@localhost",
            "commit", "--quiet", "--allow-empty", "-m", message)
        git("tag", "-a", tag, "-m", f"mlflow-gitlab {tag}")
        git("push", "--quiet", "origin", f"HEAD:refs/heads/{branch}", f"refs/tags/{tag}")
    return True


def set_description(project_api: str, token: str) -> None:
    """`PUT /projects/:id` with the description the catalog shows."""
    request = urllib.request.Request(
        project_api, method="PUT", data=json.dumps({"description": DESCRIPTION}).encode(),
        headers={"PRIVATE-TOKEN": token, "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        response.read()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dry-run", metavar="DIR", type=Path,
                        help="only build the catalog project's tree in DIR")
    parser.add_argument("--remote", help="git URL of the catalog project (no credentials)")
    parser.add_argument("--branch", default="main", help="its default branch [main]")
    parser.add_argument("--project-api", metavar="URL",
                        help="${CI_API_V4_URL}/projects/<id> of the catalog project, to set "
                             "its description")
    parser.add_argument("--tag", help="the catalog version, a semantic version: the release "
                                      "tag without its `v` [default: the package version]")
    args = parser.parse_args(argv)
    tag = args.tag or VERSION
    if not SEMVER.fullmatch(tag):
        parser.error(f"--tag {tag!r} is not a semantic version (1.2.3 or 1.2.3-rc.1), which "
                     "the catalog needs; pass the release tag without its v")
    if args.dry_run is not None:
        for path in build_tree(args.dry_run):
            print(path)
        return 0
    if not args.remote:
        parser.error("give --remote URL, or --dry-run DIR")
    token = os.environ.get("CATALOG_TOKEN")
    try:  # the description first: the tag's pipeline publishes only a described project
        if args.project_api and token:
            set_description(args.project_api, token)
        publish(args.remote, args.branch, token, tag)
    except subprocess.CalledProcessError as exc:
        print(f"error: git {exc.cmd[1]} failed: {(exc.stderr or '').strip()[:300]}",
              file=sys.stderr)
        return 1
    except urllib.error.URLError as exc:  # HTTPError included; the token is in no URL
        print(f"error: setting the catalog project's description failed: {exc}",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
