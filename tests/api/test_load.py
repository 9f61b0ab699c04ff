"""A tuning fan-out in small: concurrent `mlflow-gitlab run` processes against a sandbox that
answers a share of writes with 429 and 503 (and stores some creates, then answers 500).
Every point arrives once; every run is made once and ends right.

`bench/relay_throughput.py` runs the same workload at size, beside naive per-call logging.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

from tests import ci_envs
from tests.cli import COMMAND, home, record

PROCESSES = 4
POINTS = 500
CHILD = textwrap.dedent("""
    import sys, mlflow
    points, exit_code = int(sys.argv[1]), int(sys.argv[2])
    mlflow.log_param("candidate", sys.argv[3])
    for step in range(points):
        mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
        mlflow.log_metric("accuracy", step / points, step=step)
    sys.exit(exit_code)
""")


def test_concurrent_runs_lose_nothing_and_end_in_their_status(sandbox, api, mlflow_client,
                                                              tmp_path):
    pipeline = api.admin("POST", "/-/sandbox/pipelines", json={
        "jobs": [{"name": f"tune {i}", "status": "running"} for i in range(PROCESSES)]}).json()
    # Faults keep coming while every process logs: two of each per burst of batches.
    for _ in range(3):
        sandbox.inject("POST", r"/runs/log-batch$", status=429, retry_after=0.2, times=2)
        sandbox.inject("POST", r"/runs/log-batch$", status=503, times=2)
    # The helper's own writes meet them too (runs/update: the helper's or the child's, through
    # the relay), and creates that are stored but answered 500.
    for route in (r"/runs/create$", r"/runs/update$"):
        sandbox.inject("POST", route, status=429, retry_after=0.2, times=2)
        sandbox.inject("POST", route, status=503, times=2)
    sandbox.inject("POST", r"/runs/create$", status=500, processed=True, times=2)
    (tmp_path / "child.py").write_text(CHILD)
    exit_codes = [0] * (PROCESSES - 1) + [3]  # the last candidate's script fails
    processes = []
    for i, job in enumerate(pipeline["jobs"]):
        env = {**ci_envs.merge_request(), **{
            "PATH": os.environ["PATH"], "HOME": home(),
            "CI_SERVER_URL": sandbox.url, "CI_API_V4_URL": sandbox.api_url,
            "CI_PROJECT_NAME": "demo-project", "CI_PIPELINE_ID": str(pipeline["pipeline_id"]),
            "CI_PIPELINE_IID": str(pipeline["iid"]), "CI_JOB_ID": str(job["id"]),
            "CI_JOB_NAME": job["name"], "CI_JOB_TOKEN": job["token"],
            "MLFLOW_TRACKING_TOKEN": sandbox.tokens["developer"],
            "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0"}}
        args = ["run", "--", sys.executable, "child.py", str(POINTS), str(exit_codes[i]), str(i)]
        processes.append((args, subprocess.Popen(
            [*COMMAND, *args], env=env, cwd=tmp_path, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True)))
    for (args, process), expected in zip(processes, exit_codes, strict=True):
        out, err = process.communicate(timeout=240)
        record(args, out, err)
        assert process.returncode == expected, err

    assert {f["status"] for f in sandbox.fired} == {429, 503, 500}  # the faults did fire
    assert sandbox.app.faults.pending() == []
    experiment = mlflow_client.get_experiment_by_name("demo-project")
    every = mlflow_client.search_runs([experiment.experiment_id])
    runs = [r for r in every if r.data.tags.get("mlflow-gitlab.role") == "job"]
    assert len(runs) == PROCESSES  # one per process, none made twice
    assert [r.data.tags.get("mlflow-gitlab.role") for r in every].count("pipeline") == 1
    for run in runs:
        candidate = int(run.data.params["candidate"])
        assert run.info.status == ("FAILED" if exit_codes[candidate] else "FINISHED")
        for key in ("loss", "accuracy"):
            steps = [p.step for p in mlflow_client.get_metric_history(run.info.run_id, key)]
            assert sorted(steps) == list(range(POINTS)), (candidate, key)  # each exactly once
    assert not (tmp_path / ".mlflow-gitlab" / "spool").exists()  # nothing left unsent
