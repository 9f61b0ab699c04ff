"""A data folder keeps its address across restarts, and `sandbox env` plays one of its jobs.

Both commands print tokens on purpose (the ready JSON, a job's CI_JOB_TOKEN), so their output
is read here and not kept for the secrets scan.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

COMMAND = [sys.executable, "-m", "mlflow_gitlab"]


def serve(data: Path, ready: Path, *extra: str) -> subprocess.Popen:
    ready.unlink(missing_ok=True)
    proc = subprocess.Popen([*COMMAND, "sandbox", "serve", "--data", str(data),
                             "--ready-file", str(ready), *extra],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while not ready.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    return proc


def url_of(ready: Path) -> str:
    """The served URL; the ready file, holding tokens, is gone afterwards."""
    url = json.loads(ready.read_text())["url"]
    ready.unlink()
    return url


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    proc.communicate(timeout=10)


def test_a_data_folder_is_served_again_at_the_same_address(tmp_path):
    data = tmp_path / "data"
    ready = data / "ready.json"  # next to the tokens the folder keeps
    first = serve(data, ready)
    url = url_of(ready)
    stop(first)
    again = serve(data, ready)
    try:
        assert url_of(ready) == url
        assert requests.get(f"{url}/ml-team/demo-project/-/ml/experiments",
                            timeout=10).status_code == 200
    finally:
        stop(again)


def test_a_taken_recorded_port_is_one_error_line(tmp_path):
    data = tmp_path / "data"
    ready = data / "ready.json"  # next to the tokens the folder keeps
    stop(serve(data, ready))
    port = url_of(ready).rsplit(":", 1)[1]
    with socket.socket() as holder:
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        holder.bind(("127.0.0.1", int(port)))
        holder.listen()
        proc = serve(data, ready)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 1
    assert err.splitlines()[0].startswith(f"error: cannot listen on port {port}")
    assert "Traceback" not in err


def test_sandbox_env_gives_a_job_its_variables_and_a_working_job_token(tmp_path):
    data = tmp_path / "data"
    ready = data / "ready.json"  # next to the tokens the folder keeps
    proc = serve(data, ready)
    url_of(ready)
    try:
        done = subprocess.run([*COMMAND, "sandbox", "env", "--job", "5001", "--data", str(data),
                               "--format", "json"], capture_output=True, text=True, timeout=60,
                              check=True, env={**os.environ})
        variables = json.loads(done.stdout)
        assert variables["CI_JOB_ID"] == "5001"
        assert variables["CI_MERGE_REQUEST_IID"] == "1"
        job = requests.get(f"{variables['CI_API_V4_URL']}/job", timeout=10,
                           headers={"JOB-TOKEN": variables["CI_JOB_TOKEN"]})
        assert job.status_code == 200 and job.json()["id"] == 5001
    finally:
        stop(proc)


def test_sandbox_env_names_an_unknown_job(tmp_path):
    data = tmp_path / "data"
    ready = data / "ready.json"  # next to the tokens the folder keeps
    stop(serve(data, ready))
    url_of(ready)
    done = subprocess.run([*COMMAND, "sandbox", "env", "--job", "999", "--data", str(data)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert done.stderr.startswith("error: ") and "999" in done.stderr.splitlines()[0]
