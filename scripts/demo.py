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

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / ".demo"
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

    def pipeline(self, ref: str, source: str, jobs: list[str]) -> dict:
        """Create a running pipeline; GitLab would do this on a push or an MR update."""
        body = {"ref": ref, "sha": os.urandom(20).hex(), "source": source, "status": "running",
                "user": "developer",
                "jobs": [{"name": name, "stage": name.split(":")[0], "status": "running"}
                         for name in jobs]}
        response = requests.post(f"{self.info['url']}/-/sandbox/pipelines", json=body, timeout=10,
                                 headers={"PRIVATE-TOKEN": self.info["admin_token"]})
        response.raise_for_status()
        return response.json()

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


def job_env(sb: Sandbox, pipeline: dict, job: dict, ref: str, mr: bool) -> dict[str, str]:
    """The variables GitLab sets for `job`, plus the one a project adds (the access token)."""
    info = sb.info
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CI_", "MLFLOW_"))}
    env.update({
        "CI": "true", "GITLAB_CI": "true", "GITLAB_USER_LOGIN": "dev",
        "CI_SERVER_URL": info["url"], "CI_API_V4_URL": info["api_url"],
        "CI_PROJECT_ID": str(info["project_id"]), "CI_PROJECT_PATH": info["project_path"],
        "CI_PROJECT_NAME": "demo-project", "CI_PROJECT_URL": sb.web, "CI_DEFAULT_BRANCH": "main",
        "CI_PIPELINE_ID": str(pipeline["pipeline_id"]), "CI_PIPELINE_IID": str(pipeline["iid"]),
        "CI_PIPELINE_URL": f"{sb.web}/-/pipelines/{pipeline['pipeline_id']}",
        "CI_PIPELINE_SOURCE": "merge_request_event" if mr else "push",
        "CI_JOB_ID": str(job["id"]), "CI_JOB_NAME": job["name"],
        "CI_JOB_STAGE": job["name"].split(":")[0], "CI_JOB_URL": f"{sb.web}/-/jobs/{job['id']}",
        "CI_JOB_TOKEN": job["token"], "CI_COMMIT_REF_NAME": ref,
        "CI_COMMIT_SHA": "1f3e5c7a9b2d4f6e8a0c2e4a6b8d0f2a4c6e8b0d",
        # A masked CI/CD variable: an access token with the `api` scope.
        "MLFLOW_TRACKING_TOKEN": info["tokens"]["developer"],
    })
    if mr:
        env.update({
            "CI_MERGE_REQUEST_IID": str(info["merge_request_iid"]),
            "CI_MERGE_REQUEST_PROJECT_ID": str(info["project_id"]),
            "CI_MERGE_REQUEST_SOURCE_PROJECT_ID": str(info["project_id"]),
            "CI_MERGE_REQUEST_SOURCE_BRANCH_NAME": ref,
            "CI_MERGE_REQUEST_TARGET_BRANCH_NAME": "main",
            "CI_MERGE_REQUEST_EVENT_TYPE": "detached",
        })
    else:
        env["CI_COMMIT_BRANCH"] = ref
    return env


def run_job(sb: Sandbox, pipeline: dict, job: dict, ref: str, command: list[str],
            mr: bool = False, **extra: str) -> None:
    print(f"\n--- job {job['id']} `{job['name']}`: mlflow-gitlab {' '.join(command)}", flush=True)
    env = {**job_env(sb, pipeline, job, ref, mr), **extra}
    result = subprocess.run([sys.executable, "-m", "mlflow_gitlab", *command], env=env,
                            cwd=DEMO, check=False)
    if result.returncode != 0:
        sys.exit(f"demo: job {job['id']} failed (exit {result.returncode}); see above")


def train(sb: Sandbox, pipeline: dict, job: dict, ref: str, learning_rate: str,
          mr: bool = False) -> None:
    outputs = DEMO / f"outputs-{job['id']}"
    run_job(sb, pipeline, job, ref,
            ["run", "--artifacts", str(outputs), "--", sys.executable, str(TRAIN)],
            mr=mr, LEARNING_RATE=learning_rate, OUTPUT_DIR=str(outputs))


def release(sb: Sandbox, pipeline: dict, job: dict) -> None:
    env_file = DEMO / f"release-{pipeline['pipeline_id']}.env"
    run_job(sb, pipeline, job, "main",
            ["release", "--model", MODEL, *METRIC, "--dotenv", str(env_file)])
    print(f"    {env_file.name}: " + " ".join(env_file.read_text().split()[:2]))


def main() -> None:
    shutil.rmtree(DEMO, ignore_errors=True)
    DEMO.mkdir()
    sb = Sandbox()
    try:
        info = sb.info
        print(f"sandbox: {info['url']} (project {info['project_path']}, id {info['project_id']})")

        print("\n=== 1. default branch: train, then release the first version")
        main1 = sb.pipeline("main", "push", ["train", "release"])
        train(sb, main1, main1["jobs"][0], "main", "0.05")
        release(sb, main1, main1["jobs"][1])

        print(f"\n=== 2. merge request !{info['merge_request_iid']}: tune the learning rate, "
              "report on the MR")
        mr = sb.pipeline("refs/merge-requests/1/head", "merge_request_event",
                         ["train: [0.1]", "train: [0.3]", "report"])
        for job, learning_rate in zip(mr["jobs"][:2], ("0.1", "0.3"), strict=True):
            train(sb, mr, job, "tune-learning-rate", learning_rate, mr=True)
        run_job(sb, mr, mr["jobs"][2], "tune-learning-rate",
                ["report", *METRIC, "--model", MODEL, "--output", "report.md"], mr=True,
                MLFLOW_GITLAB_TOKEN=info["tokens"]["maintainer"])

        print("\n=== 3. after the merge: retrain on the default branch, release the next version")
        main2 = sb.pipeline("main", "push", ["train", "release"])
        train(sb, main2, main2["jobs"][0], "main", "0.3")
        release(sb, main2, main2["jobs"][1])
        summarize(sb)
    finally:
        sb.stop()
    rel = DEMO.relative_to(ROOT)
    versions = [line.split("=", 1)[1] for env in sorted(DEMO.glob("release-*.env"))
                for line in env.read_text().splitlines() if line.startswith("MODEL_VERSION_URL=")]
    print("\nPages to open (GitLab's paths, on the sandbox):")
    print(f"  - experiments and their runs: {sb.web}/-/ml/experiments")
    print(f"  - the model registry: {sb.web}/-/ml/models")
    for url in versions:
        print(f"  - model version: {url}")
    print(f"""  To browse them, serve the demo's data again (same address, Ctrl-C to stop):
      .venv/bin/mlflow-gitlab sandbox serve --data {rel}/sandbox
""")
    print(f"""Where to look:
  - the report posted on the merge request: {rel}/report.md (the note's text)
  - the release outputs for later jobs: {rel}/release-*.env
  - the sandbox's state (SQLite + files) is in {rel}/sandbox; serve it again with
      .venv/bin/mlflow-gitlab sandbox serve --data {rel}/sandbox
    and point MLFLOW_TRACKING_URI at <url>/api/v4/projects/{info['project_id']}/ml/mlflow
    with MLFLOW_TRACKING_TOKEN from {rel}/ready.json; the tags are in docs/tags.md.""")


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
