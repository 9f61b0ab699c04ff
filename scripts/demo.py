"""`make demo`: a merge-request tuning pipeline, run for real against the embedded sandbox.

It starts the sandbox, then plays the jobs of its seeded merge-request pipeline as GitLab
would: the variables GitLab sets, and `mlflow-gitlab run -- python train.py` as the script of
each `parallel:matrix` job. The training script uses plain `mlflow` calls only.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / ".demo"
TRAIN = ROOT / "examples" / "quickstart" / "train.py"
MATRIX = (("5001", "0.05"), ("5002", "0.3"))  # (job id, LEARNING_RATE) of the seeded jobs


def start_sandbox() -> tuple[subprocess.Popen[bytes], dict]:
    ready = DEMO / "ready.json"
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlflow_gitlab", "sandbox", "serve", "--port", "0",
         "--data", str(DEMO / "sandbox"), "--ready-file", str(ready)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while not ready.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            sys.exit("demo: the sandbox did not start; try `mlflow-gitlab sandbox serve`")
        time.sleep(0.05)
    return proc, json.loads(ready.read_text())


def job_env(info: dict, job_id: str, learning_rate: str) -> dict[str, str]:
    """What GitLab sets for one job of `train: parallel: matrix: LEARNING_RATE: [...]`."""
    web = f"{info['url']}/{info['project_path']}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CI_", "MLFLOW_"))}
    env.update({
        "CI": "true", "GITLAB_CI": "true",
        "CI_SERVER_URL": info["url"], "CI_API_V4_URL": info["api_url"],
        "CI_PROJECT_ID": str(info["project_id"]), "CI_PROJECT_PATH": info["project_path"],
        "CI_PROJECT_NAME": "demo-project", "CI_PROJECT_URL": web,
        "CI_PIPELINE_ID": str(info["pipeline_id"]), "CI_PIPELINE_IID": "1",
        "CI_PIPELINE_SOURCE": "merge_request_event",
        "CI_PIPELINE_URL": f"{web}/-/pipelines/{info['pipeline_id']}",
        "CI_JOB_ID": job_id, "CI_JOB_NAME": f"train: [{learning_rate}]", "CI_JOB_STAGE": "train",
        "CI_JOB_URL": f"{web}/-/jobs/{job_id}", "CI_JOB_TOKEN": info["tokens"]["job"],
        "CI_NODE_INDEX": str(MATRIX.index((job_id, learning_rate)) + 1),
        "CI_NODE_TOTAL": str(len(MATRIX)),
        "CI_COMMIT_SHA": "1f3e5c7a9b2d4f6e8a0c2e4a6b8d0f2a4c6e8b0d",
        "CI_COMMIT_REF_NAME": "tune-learning-rate",
        "CI_MERGE_REQUEST_IID": str(info["merge_request_iid"]),
        "CI_MERGE_REQUEST_SOURCE_BRANCH_NAME": "tune-learning-rate",
        "CI_MERGE_REQUEST_TARGET_BRANCH_NAME": "main",
        "CI_MERGE_REQUEST_EVENT_TYPE": "detached",
        "GITLAB_USER_LOGIN": "dev",
        # The one variable a project adds: a masked access token with the `api` scope.
        "MLFLOW_TRACKING_TOKEN": info["tokens"]["developer"],
        "LEARNING_RATE": learning_rate,
    })
    return env


def run_job(info: dict, job_id: str, learning_rate: str) -> None:
    print(f"\n--- job {job_id} `train: [{learning_rate}]`: "
          f"mlflow-gitlab run -- python {TRAIN.relative_to(ROOT)}", flush=True)
    result = subprocess.run(
        [sys.executable, "-m", "mlflow_gitlab", "run", "--", sys.executable, str(TRAIN)],
        env=job_env(info, job_id, learning_rate), check=False)
    if result.returncode != 0:
        sys.exit(f"demo: job {job_id} failed (exit {result.returncode}); see above")


def summarize(info: dict) -> None:
    from mlflow.tracking import MlflowClient

    os.environ["MLFLOW_TRACKING_TOKEN"] = info["tokens"]["developer"]
    client = MlflowClient(f"{info['api_url']}/projects/{info['project_id']}/ml/mlflow")
    experiment = client.get_experiment_by_name("demo-project")
    runs = client.search_runs([experiment.experiment_id])
    parents = [r for r in runs if r.data.tags.get("mlflow-gitlab.role") == "pipeline"]
    jobs = sorted((r for r in runs if r.data.tags.get("mlflow-gitlab.role") == "job"),
                  key=lambda r: r.data.metrics["final_loss"])
    print(f"\nexperiment 'demo-project' (id {experiment.experiment_id}):")
    for parent in parents:
        print(f"  {parent.info.run_name}  (parent run {parent.info.run_id})")
    for run in jobs:
        tags = run.data.tags
        files = [f.path for f in client.list_artifacts(run.info.run_id)]
        print(f"    {run.info.run_name:<28} {run.info.status:<9} "
              f"final_loss={run.data.metrics['final_loss']:.4f}  artifacts={files}")
        print(f"      gitlab.CI_JOB_ID={tags['gitlab.CI_JOB_ID']}  "
              f"gitlab.CI_MERGE_REQUEST_IID={tags['gitlab.CI_MERGE_REQUEST_IID']}  "
              f"mlflow.user={tags['mlflow.user']}")
    print(f"  best candidate: {jobs[0].info.run_name}")


def main() -> None:
    shutil.rmtree(DEMO, ignore_errors=True)
    DEMO.mkdir()
    proc, info = start_sandbox()
    try:
        print(f"sandbox: {info['url']} (project {info['project_path']}, id {info['project_id']}, "
              f"merge request !{info['merge_request_iid']}, pipeline {info['pipeline_id']})")
        for job_id, learning_rate in MATRIX:
            run_job(info, job_id, learning_rate)
        summarize(info)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    rel = DEMO.relative_to(ROOT)
    print(f"""
Where to look:
  - every tag a run gets: docs/tags.md; the whole context of a job: `mlflow-gitlab context`
  - the sandbox's state (SQLite + files) is in {rel}/sandbox; serve it again with
      .venv/bin/mlflow-gitlab sandbox serve --data {rel}/sandbox
    then point MLFLOW_TRACKING_URI at <url>/api/v4/projects/{info['project_id']}/ml/mlflow with
    MLFLOW_TRACKING_TOKEN from {rel}/ready.json, and browse it with any MLflow client.""")


if __name__ == "__main__":
    main()
