"""`make demo`: start the sandbox, run a tracked training job against it, show what landed.

The training script (examples/quickstart/train.py) uses plain `mlflow` calls only; it is
pointed at the sandbox exactly as a GitLab job is pointed at its project's MLflow endpoint.
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


def train(info: dict, learning_rate: float) -> None:
    env = {
        **os.environ,
        "MLFLOW_TRACKING_URI": f"{info['api_url']}/projects/{info['project_id']}/ml/mlflow",
        "MLFLOW_TRACKING_TOKEN": info["tokens"]["developer"],
        "MLFLOW_EXPERIMENT_NAME": "quickstart",
        "LEARNING_RATE": str(learning_rate),
    }
    print(f"$ LEARNING_RATE={learning_rate} python {TRAIN.relative_to(ROOT)}", flush=True)
    result = subprocess.run([sys.executable, str(TRAIN)], env=env, check=False)
    if result.returncode != 0:
        sys.exit(f"demo: the training script failed (exit {result.returncode}); see above")


def summarize(info: dict) -> None:
    from mlflow.tracking import MlflowClient

    os.environ["MLFLOW_TRACKING_TOKEN"] = info["tokens"]["developer"]
    client = MlflowClient(f"{info['api_url']}/projects/{info['project_id']}/ml/mlflow")
    experiment = client.get_experiment_by_name("quickstart")
    runs = client.search_runs([experiment.experiment_id])
    print(f"\nexperiment 'quickstart' (id {experiment.experiment_id}) holds {len(runs)} runs:")
    for run in sorted(runs, key=lambda r: r.data.metrics["final_loss"]):
        files = [f.path for f in client.list_artifacts(run.info.run_id)]
        print(f"  {run.info.run_name:<10} final_loss={run.data.metrics['final_loss']:.4f}  "
              f"run_id={run.info.run_id}  artifacts={files}")


def main() -> None:
    shutil.rmtree(DEMO, ignore_errors=True)
    DEMO.mkdir()
    proc, info = start_sandbox()
    try:
        print(f"sandbox: {info['url']} (project {info['project_path']}, id {info['project_id']})")
        for learning_rate in (0.05, 0.3):
            train(info, learning_rate)
        summarize(info)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    print(f"""
Where to look:
  - the sandbox's data (SQLite + files) is in {DEMO.relative_to(ROOT)}/sandbox; serve it again with
      .venv/bin/mlflow-gitlab sandbox serve --data {DEMO.relative_to(ROOT)}/sandbox
    and point MLFLOW_TRACKING_URI at <url>/api/v4/projects/{info['project_id']}/ml/mlflow
    (the tokens are in {DEMO.relative_to(ROOT)}/ready.json).
  - the training script is {TRAIN.relative_to(ROOT)}: plain mlflow calls, nothing else.""")


if __name__ == "__main__":
    main()
