"""Run an example's `.gitlab-ci.yml` under gitlab-ci-local, with the sandbox as its GitLab.

The example is copied into a throwaway git repository whose `origin` is the sandbox's project
URL, so gitlab-ci-local derives `CI_SERVER_URL`, `CI_API_V4_URL` and `CI_PROJECT_PATH` from it
as GitLab would set them. Its includes are fetched from the sandbox (`release_setup.py`):
`include: component:` from the catalog project the release job's command published
(gitlab-ci-local 4.60.0 GETs `/<project>/-/raw/<ref>/templates/<name>.yml`, then clones the
project at the tag over git HTTP), `include: project:` from the mlflow-gitlab repository pushed
there (the same partial clone at the `ref`, without the GET), so the examples keep the exact
lines users paste. Like a self-managed user, the checkout passes each include the `index-url`
of the registry that serves mlflow-gitlab, and each pipeline runs on a bare Python (a fresh
venv first on PATH): the jobs install what the included files install.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from mlflow_gitlab.sandbox import Sandbox
from tests import secrets_scan
from tests.cli import record
from tests.e2e.release_setup import bare_python, index_url, runner_cache_variables

ROOT = Path(__file__).resolve().parents[2]
GITLAB_CI_LOCAL = Path(os.environ.get(
    "GITLAB_CI_LOCAL", ROOT / ".e2e-tools" / "node_modules" / ".bin" / "gitlab-ci-local"))
COMPONENTS_PROJECT = "mlflow-gitlab/components"  # the path the examples include
REPOSITORY_PROJECT = "mlflow-gitlab/mlflow-gitlab"  # where `include: project:` finds templates/
FIRST_PIPELINE_IID = 11  # gitlab-ci-local's CI_PIPELINE_ID is 1000 + iid; the seed has 1001
# a child pipeline's job is `[<trigger job>] -> <job>`
_RESULT = re.compile(r"^\s*(PASS|FAIL|WARN)\s+(?:\[[^\]]+\] -> )?(.+?)\s*$")
# Sourced by every bash gitlab-ci-local starts: records the job ids it assigned, so the test
# compares run tags with an observation that owes nothing to mlflow-gitlab.
_RECORD_JOB = '[ -n "$CI_JOB_ID" ] && echo "$CI_JOB_ID $CI_JOB_NAME" >> "$E2E_JOB_RECORD"\n'


@dataclass
class PipelineResult:
    returncode: int
    output: str
    results: dict[str, str]  # job name -> PASS, FAIL or WARN (allowed failure)
    job_ids: dict[str, int]  # job name -> the CI_JOB_ID gitlab-ci-local gave it
    pipeline_id: int


class Checkout:
    """A git repository holding one example, set up for gitlab-ci-local and the sandbox."""

    def __init__(self, example: str, workdir: Path, sandbox: Sandbox,
                 ci_config: str | None = None) -> None:
        """`ci_config`, when given, replaces the example's `.gitlab-ci.yml`."""
        self.sandbox = sandbox
        self.root = workdir / example
        self.home = workdir / "gcl-home"
        self.home.mkdir(exist_ok=True)
        shutil.copytree(ROOT / "examples" / example, self.root,
                        ignore=shutil.ignore_patterns("outputs", "__pycache__", "mlruns"))
        self.workdir = workdir
        self.python: Path | None = None  # the bin folder of the last pipeline's bare Python
        if ci_config is not None:
            (self.root / ".gitlab-ci.yml").write_text(ci_config)
        self._pass_index_url(index_url(sandbox))
        self._git("init", "-q", "-b", "main")
        self._git("add", "-A")
        self._git("-c", "user.name=dev", "-c", "user.email=dev@example.com",
                  "commit", "-q", "-m", "example")
        self._git("config", "user.name", "dev")
        self._git("config", "user.email", "dev@example.com")
        self._git("remote", "add", "origin",
                  f"{sandbox.url}/{sandbox.ready_info()['project_path']}.git")
        state = self.root / ".gitlab-ci-local"
        state.mkdir()
        (state / "state.yml").write_text(f"---\npipelineIid: {FIRST_PIPELINE_IID - 1}\n")
        self.record = workdir / "job-ids.txt"
        self.bash_env = workdir / "record-job.sh"
        self.bash_env.write_text(_RECORD_JOB)

    def branch(self, name: str) -> None:
        self._git("checkout", "-q", "-B", name)

    def run(self, variables: dict[str, str], unset: tuple[str, ...] = (),
            timeout: float = 240, *, tools: Path | None = None) -> PipelineResult:
        """Run the whole pipeline with these CI/CD variables on top of GitLab's; `tools`, a
        folder of programs the job image has (uv), comes after the bare Python on PATH."""
        iid = self._next_iid()
        self.record.unlink(missing_ok=True)
        python = self.python = bare_python(self.workdir / "runner-python")
        variables = {**runner_cache_variables(), **variables}
        self._pass_to_child_pipelines(variables, unset)
        proc = self._gitlab_ci_local(["--shell-isolation"], variables, unset, timeout,
                                     self.env(python, tools))
        output = proc.stdout + proc.stderr
        results = {m[2]: m[1] for line in output.splitlines() if (m := _RESULT.match(line))}
        return PipelineResult(proc.returncode, output, results, self._job_ids(), 1000 + iid)

    def list_jobs(self, variables: dict[str, str], unset: tuple[str, ...] = ()
                  ) -> PipelineResult:
        """The jobs the pipeline would have (rules applied), after schema validation."""
        proc = self._gitlab_ci_local(["--list-json"], variables, unset, 120)
        # Warnings come first on stdout; the JSON list starts on a line of its own.
        start = proc.stdout.find("\n[")
        jobs = json.loads(proc.stdout[start:]) if proc.returncode == 0 and start >= 0 else []
        results = {job["name"]: "LISTED" for job in jobs if job.get("when") != "never"}
        return PipelineResult(proc.returncode, proc.stdout + proc.stderr, results, {}, 0)

    def env(self, python: Path | None = None, tools: Path | None = None) -> dict[str, str]:
        """This machine's environment without CI, MLflow or uv settings, `python`'s folder
        (the test venv's by default) first on PATH, then `tools`."""
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("CI_", "GITLAB_", "MLFLOW_", "UV_", "VIRTUAL_ENV"))
               and k not in ("CI", "BASH_ENV")}
        bin_dirs = [str(python or Path(sys.executable).parent), *([str(tools)] if tools else [])]
        env.update({"PATH": os.pathsep.join([*bin_dirs, env.get("PATH", "")]),
                    "PIP_DISABLE_PIP_VERSION_CHECK": "1",
                    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0", "HOME": str(self.home)})
        return env

    def _pass_to_child_pipelines(self, variables: dict[str, str],
                                 unset: tuple[str, ...]) -> None:
        """Write the pipeline's variables where a child pipeline reads them too.

        gitlab-ci-local starts a child pipeline (`trigger:include`) with only the trigger
        job's and the global `variables:`, dropping its `--variable` values; GitLab gives a
        child the project's CI/CD variables and, in a merge-request pipeline, the parent's
        `CI_MERGE_REQUEST_*` ones. gitlab-ci-local's own file of CI/CD variables (under
        `--home`), which it reads for every pipeline, children included, plays both.
        """
        passed = {key: value for key, value in {**self._base_variables(), **variables}.items()
                  if key not in unset and key != "CI_PIPELINE_SOURCE"}  # a child's is its own
        state = self.home / ".gitlab-ci-local"
        state.mkdir(exist_ok=True)
        path = state / "variables.yml"  # holds the masked token, as GitLab's settings do
        # typed: an untyped value starting with / would be taken for a file to copy
        path.write_text(json.dumps({"global": {
            key: {"type": "variable", "values": {"*": value}} for key, value in passed.items()}}))
        secrets_scan.allow(path)

    def _pass_index_url(self, url: str) -> None:
        """Give every include of mlflow-gitlab's files the `index-url` input, and every job
        extending a classic template its variable, as the user would write them."""
        path = self.root / ".gitlab-ci.yml"
        text = path.read_text()
        # gitlab-ci-local interpolates inputs only, not `$[[ component.version ]]` (GitLab
        # 18.7+ gives a component included at a released tag its version): the `version`
        # input, which the components take before their own version, stands in for it. The
        # files of templates/ have no component context: they install the release they
        # belong to, whatever the `ref`, so `include: project:` and `extends:` need no
        # stand-in.
        text = re.sub(r"^(  - component: .*@(.+)\n    inputs:\n)",
                      rf"\1      index-url: {url}\n      version: \2\n", text,
                      flags=re.MULTILINE)
        text = re.sub(r"^(  - project: .+\n(?:    (?:ref|file): .+\n)+    inputs:\n)",
                      rf"\1      index-url: {url}\n", text, flags=re.MULTILINE)
        text = re.sub(r"^(  extends: \.mlflow-gitlab-\w+\n  variables:\n)",
                      rf"\1    MLFLOW_GITLAB_SETUP_INDEX_URL: {url}\n", text,
                      flags=re.MULTILINE)
        path.write_text(text)

    def _gitlab_ci_local(self, args: list[str], variables: dict[str, str],
                         unset: tuple[str, ...], timeout: float,
                         env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        argv = [str(GITLAB_CI_LOCAL), *args, "--force-shell-executor", "--no-color",
                "--home", str(self.home)]
        for key, value in {**self._base_variables(), **variables}.items():
            if key not in unset:  # e.g. a fork's pipeline gets no MLFLOW_TRACKING_TOKEN
                argv += ["--variable", f"{key}={value}"]
        for key in unset:
            argv += ["--unset-variable", key]
        proc = subprocess.run(argv, cwd=self.root, env=env or self.env(), capture_output=True,
                              text=True, timeout=timeout, check=False)
        # the jobs' logs: the same secrets scan as the tool's own output (no --variable values
        # in the label: the masked tracking token is one of them)
        record(("gitlab-ci-local", *args), proc.stdout, proc.stderr,
               env=self._base_variables())
        return proc

    def _base_variables(self) -> dict[str, str]:
        """What GitLab sets and gitlab-ci-local does not, and the project's one CI variable."""
        return {
            "GITLAB_CI": "true",
            "CI_PROJECT_ID": str(self.sandbox.project_id),
            "CI_DEFAULT_BRANCH": "main",
            "GITLAB_USER_LOGIN": "dev",
            "MLFLOW_TRACKING_TOKEN": self.sandbox.tokens["developer"],  # the masked variable
            "BASH_ENV": str(self.bash_env),
            "E2E_JOB_RECORD": str(self.record),
        }

    def _job_ids(self) -> dict[str, int]:
        if not self.record.exists():
            return {}
        pairs = (line.split(" ", 1) for line in self.record.read_text().splitlines() if line)
        return {name: int(job_id) for job_id, name in pairs}

    def _next_iid(self) -> int:
        state = (self.root / ".gitlab-ci-local" / "state.yml").read_text()
        return int(re.search(r"pipelineIid: (\d+)", state)[1]) + 1

    def _git(self, *args: str) -> None:
        subprocess.run(["git", *args], cwd=self.root, check=True, capture_output=True)
