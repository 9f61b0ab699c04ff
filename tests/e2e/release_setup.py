"""What a self-managed user has before an example's pipeline runs: mlflow-gitlab's wheel in the
instance's PyPI registry (published by the release job's own command) and bare runners.

The runners share one download cache (uv's and pip's), as a runner's cache volume would, kept in
`.e2e-tools/cache/` so a second `make e2e` installs from it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import requests
import yaml

from mlflow_gitlab import __version__
from mlflow_gitlab.sandbox import Sandbox

ROOT = Path(__file__).resolve().parents[2]
DOWNLOAD_CACHE = ROOT / ".e2e-tools" / "cache"


def build_wheel(out: Path) -> Path:
    """This checkout's wheel, built as the pipeline's `build` job builds it."""
    subprocess.run([sys.executable, "-m", "build", "--wheel", "--outdir", str(out), str(ROOT)],
                   check=True, capture_output=True, timeout=300)
    return next(out.glob("mlflow_gitlab-*.whl"))


def publish(sandbox: Sandbox, dist: Path) -> None:
    """Run the `publish-gitlab` job's script line with the variables a runner sets for it."""
    pipeline = yaml.safe_load((ROOT / ".gitlab-ci.yml").read_text())
    command = pipeline["publish-gitlab"]["script"][-1]
    runner_env = {"CI_JOB_TOKEN": sandbox.tokens["job"], "CI_API_V4_URL": sandbox.api_url,
                  "CI_PROJECT_ID": str(sandbox.project_id)}
    bin_dir = str(Path(sys.executable).parent)
    env = dict(os.environ, **runner_env, PATH=bin_dir + os.pathsep + os.environ["PATH"],
               TWINE_NON_INTERACTIVE="1", PYTHON_KEYRING_BACKEND="keyring.backends.null.Keyring")
    done = subprocess.run(["bash", "-ec", command], cwd=dist.parent, env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    # The project that hosts mlflow-gitlab's releases is public (or internal), so every
    # project's jobs, a fork's too, install from its registry without credentials.
    with sandbox.app.store.tx() as db:
        db.execute("UPDATE projects SET visibility = 'public' WHERE id = ?",
                   (sandbox.project_id,))


def index_url(sandbox: Sandbox) -> str:
    """The `index-url` input a user passes: the registry of the project that hosts the wheel."""
    return f"${{CI_API_V4_URL}}/projects/{sandbox.project_id}/packages/pypi/simple"


def bare_python(where: Path) -> Path:
    """A fresh venv with nothing but pip in it; returns its `bin` folder (first on PATH)."""
    shutil.rmtree(where, ignore_errors=True)
    base = getattr(sys, "_base_executable", sys.executable)
    subprocess.run([base, "-m", "venv", str(where)], check=True, capture_output=True,
                   timeout=120)
    return where / "bin"


def uv_on_the_image() -> Path:
    """A folder holding uv alone, put on a job's PATH as the components' default image
    (Astral's Python image with uv) has it; installed once into `.e2e-tools/`."""
    where = ROOT / ".e2e-tools" / "uv-image"
    if not (where / "bin" / "uv").exists():
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--target",
                        str(where), "uv"], check=True, capture_output=True, timeout=300)
    return where / "bin"


def runner_cache_variables() -> dict[str, str]:
    """The shared download caches, in place of the per-project ones the components set."""
    return {"UV_CACHE_DIR": str(DOWNLOAD_CACHE / "uv"),
            "PIP_CACHE_DIR": str(DOWNLOAD_CACHE / "pip")}


def installed(bin_dir: Path) -> dict[str, str]:
    """The distributions in that Python, by lower-case name, with `editable` for editable ones."""
    script = ("import importlib.metadata as m, json; print(json.dumps({d.metadata['Name'].lower():"
              " 'editable' if d.read_text('direct_url.json') else d.version"
              " for d in m.distributions()}))")
    done = subprocess.run([str(bin_dir / "python"), "-c", script], check=True,
                          capture_output=True, text=True, timeout=60)
    return json.loads(done.stdout)


def publish_catalog(sandbox: Sandbox) -> None:
    """Run the `publish-catalog` job's command into a public `mlflow-gitlab/components` of the
    sandbox, with a Maintainer project access token as its CATALOG_TOKEN: it sets the
    project's description through the API, then pushes the catalog's tree and tag."""
    token = _public_project_token(sandbox, "mlflow-gitlab/components")
    pipeline = yaml.safe_load((ROOT / ".gitlab-ci.yml").read_text())
    command = pipeline["publish-catalog"]["script"][-1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(CI_SERVER_URL=sandbox.url, CI_API_V4_URL=sandbox.api_url, CATALOG_TOKEN=token,
               CI_COMMIT_TAG=f"v{__version__}",  # a tag pipeline's
               GIT_TERMINAL_PROMPT="0", PATH=str(Path(sys.executable).parent) + os.pathsep
               + os.environ["PATH"])
    done = subprocess.run(["bash", "-ec", command], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    catalog = requests.get(f"{sandbox.api_url}/projects/mlflow-gitlab%2Fcomponents", timeout=10)
    assert catalog.json()["description"], "the catalog project has no description"


def publish_repository(sandbox: Sandbox, project_path: str) -> None:
    """Push this checkout's tree to a public `project_path` of the sandbox, tagged with the
    package's version, as an administrator mirrors mlflow-gitlab onto a self-managed
    instance for `include: project:` (with the catalog's push, `push_tree`)."""
    from scripts.publish_catalog import push_tree

    token = _public_project_token(sandbox, project_path)
    pushed = push_tree(f"{sandbox.url}/{project_path}.git", "main", __version__, token,
                       _copy_checkout, f"mlflow-gitlab {__version__}")
    assert pushed, f"{project_path} already has the tag {__version__}"


def _copy_checkout(into: Path) -> None:
    """The checkout's files as a commit of it would hold them: tracked or new, not ignored."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others",
                             "--exclude-standard"], cwd=ROOT, check=True, capture_output=True,
                            timeout=60).stdout.decode().split("\0")
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file():  # a tracked file deleted in the checkout is not pushed
            (into / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, into / name)


def _public_project_token(sandbox: Sandbox, project_path: str) -> str:
    """A new public project at `project_path` and a Maintainer project access token for it
    (`api` and `write_repository`, what a release job pushes and edits the project with)."""
    from mlflow_gitlab.sandbox import git_repos
    from mlflow_gitlab.sandbox.backend.projects import MAINTAINER

    project_id = git_repos.create_project(sandbox.app.store, project_path, "public")
    return git_repos.create_project_token(sandbox.app.store, project_id,
                                          "api write_repository", MAINTAINER)
