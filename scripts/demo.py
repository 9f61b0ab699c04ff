"""`make demo`: the whole flow, run for real against the embedded sandbox.

It starts the sandbox and plays three pipelines as GitLab would run them, with the variables
GitLab sets and the commands our CI components run:

1. the default branch trains and releases the first model version;
2. a merge request tunes the learning rate (a `parallel:matrix` fan-out) and posts a report
   comparing its candidates with that version;
3. after the merge, the default branch retrains and releases the next version.

The training script (examples/quickstart/train.py) uses plain `mlflow` calls only.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import requests

from mlflow_gitlab.sandbox.job_env import job_env as sandbox_job_env

ROOT = Path(__file__).resolve().parent.parent
DEMO = Path(os.environ.get("DEMO_DIR") or ROOT / ".demo").resolve()
TRAIN = ROOT / "examples" / "quickstart" / "train.py"
MODEL = "demo-model"
METRIC = ["--metric", "final_loss", "--mode", "min"]
# A fixed address, so the links stored in runs and notes open whenever `.demo` is served again.
PORT = int(os.environ.get("DEMO_PORT") or 8930)


class Sandbox:
    """The sandbox process, and GitLab's side of a pipeline: its id, jobs and job tokens."""

    def __init__(self) -> None:
        ready = DEMO / "ready.json"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "mlflow_gitlab", "sandbox", "serve", "--port", str(PORT),
             "--data", str(DEMO / "sandbox"), "--ready-file", str(ready)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 30
        while not ready.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.proc.kill()
                why = (self.proc.communicate()[1] or "").strip().splitlines()
                sys.exit(f"demo: the sandbox did not start on port {PORT}: "
                         f"{why[0] if why else 'no answer'}\n"
                         "  pick another port: make demo DEMO_PORT=<port>")
            time.sleep(0.05)
        self.info = json.loads(ready.read_text())
        self.web = f"{self.info['url']}/{self.info['project_path']}"

    def control(self, method: str, path: str, **body: object) -> dict:
        """The sandbox's control routes: what GitLab does on a push, an MR update, a merge."""
        response = requests.request(method, f"{self.info['url']}/-/sandbox{path}", json=body,
                                    headers={"PRIVATE-TOKEN": self.info["admin_token"]},
                                    timeout=10)
        response.raise_for_status()
        return response.json()

    def api(self, path: str) -> dict:
        """GET a resource of the demo project, as a developer."""
        response = requests.get(f"{self.info['api_url']}/projects/{self.info['project_id']}{path}",
                                headers={"PRIVATE-TOKEN": self.info["tokens"]["developer"]},
                                timeout=10)
        response.raise_for_status()
        return response.json()

    def pipeline(self, ref: str, source: str, jobs: list[str], sha: str | None = None) -> dict:
        """Create a running pipeline for `sha` (a new commit if None) with running `jobs`."""
        return self.control(
            "POST", "/pipelines", ref=ref, sha=sha or os.urandom(20).hex(), source=source,
            status="running", user="developer",
            jobs=[{"name": name, "stage": name.split(":")[0], "status": "running"}
                  for name in jobs])

    def finish(self, pipeline: dict) -> None:
        """Its jobs all passed: the pipeline succeeds."""
        self.control("PUT", f"/pipelines/{pipeline['pipeline_id']}", status="success")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


def job_env(job: dict) -> dict[str, str]:
    """The variables GitLab sets for `job` (what `mlflow-gitlab sandbox env` prints), plus the
    one a project adds: a masked access token with the `api` scope."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CI_", "MLFLOW_"))}
    env.update(sandbox_job_env(DEMO / "sandbox", job["id"], token_key="developer").variables)
    return env


def run_job(sb: Sandbox, job: dict, command: list[str], **extra: str) -> None:
    """Run the job's command as the runner would, then mark the job done (its token dies)."""
    print(f"\n--- job {job['id']} `{job['name']}`: mlflow-gitlab {' '.join(command)}", flush=True)
    env = {**job_env(job), **extra}
    result = subprocess.run([sys.executable, "-m", "mlflow_gitlab", *command], env=env,
                            cwd=DEMO, check=False)
    if result.returncode != 0:
        sys.exit(f"demo: job {job['id']} failed (exit {result.returncode}); see above")
    sb.control("PUT", f"/jobs/{job['id']}", status="success")


def train(sb: Sandbox, job: dict, learning_rate: str) -> None:
    outputs = DEMO / f"outputs-{job['id']}"
    run_job(sb, job, ["run", "--artifacts", str(outputs), "--", sys.executable, str(TRAIN)],
            LEARNING_RATE=learning_rate, OUTPUT_DIR=str(outputs))


def release(sb: Sandbox, pipeline: dict, job: dict) -> None:
    env_file = DEMO / f"release-{pipeline['pipeline_id']}.env"
    run_job(sb, job, ["release", "--model", MODEL, *METRIC, "--dotenv", str(env_file)])
    print(f"    {env_file.name}: " + " ".join(env_file.read_text().split()[:2]))


def main() -> None:
    shutil.rmtree(DEMO, ignore_errors=True)
    DEMO.mkdir(parents=True)
    sb = Sandbox()
    try:
        info = sb.info
        iid = info["merge_request_iid"]
        print(f"sandbox: {info['url']} (project {info['project_path']}, id {info['project_id']})")

        print("\n=== 1. default branch: train, then release the first version")
        main1 = sb.pipeline("main", "push", ["train", "release"])
        train(sb, main1["jobs"][0], "0.05")
        release(sb, main1, main1["jobs"][1])
        sb.finish(main1)

        print(f"\n=== 2. merge request !{iid}: tune the learning rate, report on the MR")
        head = sb.api(f"/merge_requests/{iid}")["sha"]
        tune = sb.pipeline(f"refs/merge-requests/{iid}/head", "merge_request_event",
                           ["train: [0.1]", "train: [0.3]", "report"], sha=head)
        for job, learning_rate in zip(tune["jobs"][:2], ("0.1", "0.3"), strict=True):
            train(sb, job, learning_rate)
        run_job(sb, tune["jobs"][2], ["report", *METRIC, "--model", MODEL, "--output", "report.md"],
                MLFLOW_GITLAB_TOKEN=info["tokens"]["maintainer"])
        sb.finish(tune)

        print(f"\n=== 3. merge !{iid} (labelled model::minor), retrain on the default branch, "
              "release the next version")
        merge_commit = os.urandom(20).hex()
        sb.control("POST", f"/merge_requests/{iid}/merge", user="developer",
                   merge_commit_sha=merge_commit)
        main2 = sb.pipeline("main", "push", ["train", "release"], sha=merge_commit)
        train(sb, main2["jobs"][0], "0.3")
        release(sb, main2, main2["jobs"][1])
        sb.finish(main2)
        summarize(sb)
    finally:
        sb.stop()
    print_pages(sb, [main1, tune, main2], example_job=tune["jobs"][0]["id"])


def print_pages(sb: Sandbox, pipelines: list[dict], example_job: int) -> None:
    """The pages to open, and how to serve them again at the same address."""
    rel = os.path.relpath(DEMO, Path.cwd())
    versions = [line.split("=", 1)[1] for env in sorted(DEMO.glob("release-*.env"))
                for line in env.read_text().splitlines() if line.startswith("MODEL_VERSION_URL=")]
    print("\nPages to open (GitLab's paths, on the sandbox):")
    print(f"  - the project: {sb.web}")
    print(f"  - experiments and their runs: {sb.web}/-/ml/experiments")
    print(f"  - the merge request with the report: "
          f"{sb.web}/-/merge_requests/{sb.info['merge_request_iid']}")
    for pipeline in pipelines:
        print(f"  - pipeline: {sb.web}/-/pipelines/{pipeline['pipeline_id']}")
    print(f"  - the model registry: {sb.web}/-/ml/models")
    for url in versions:
        print(f"  - model version: {url}")
    print(f"""  To browse them, serve the demo's data again (same address, Ctrl-C to stop):
      .venv/bin/mlflow-gitlab sandbox serve --data {rel}/sandbox
""")
    print(f"""Where to look:
  - the report posted on the merge request: {rel}/report.md (the note's text)
  - the release outputs for later jobs: {rel}/release-*.env
  - a job's CI variables, to play it by hand:
      .venv/bin/mlflow-gitlab sandbox env --data {rel}/sandbox --job {example_job} \\
          --with-token developer
  - the sandbox's state (SQLite + files) is in {rel}/sandbox; the tags are in docs/tags.md.""")


def summarize(sb: Sandbox) -> None:
    """What landed on the sandbox: runs grouped by pipeline, the note, the versions."""
    info = sb.info
    auth = {"Authorization": f"Bearer {info['tokens']['developer']}"}
    api = f"{info['api_url']}/projects/{info['project_id']}"
    notes = requests.get(f"{api}/merge_requests/{info['merge_request_iid']}/notes",
                         headers=auth, timeout=10).json()
    model = requests.get(f"{api}/ml/mlflow/api/2.0/mlflow/registered-models/get",
                         params={"name": MODEL}, headers=auth, timeout=10).json()
    versions = sorted(v["aliases"][0] for v in model["registered_model"]["latest_versions"])
    print("\n=== what landed on the sandbox")
    print(f"  merge request !{info['merge_request_iid']}: {len(notes)} note(s); "
          f"first line of ours: {notes[0]['body'].splitlines()[1][:70]!r}")
    print(f"  model {MODEL!r}: versions {', '.join(versions)}")
    packages = requests.get(f"{api}/packages", headers=auth, timeout=10).json()
    print(f"  packages: {', '.join(sorted({p['name'] for p in packages}))}")


if __name__ == "__main__":
    main()
