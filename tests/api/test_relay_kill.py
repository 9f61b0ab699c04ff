"""A killed helper loses nothing: its command dies with it, and `sync` delivers what it left.

`mlflow-gitlab run` is SIGKILLed (as the out-of-memory killer or a runner does) while its
command logs metrics; then `mlflow-gitlab sync` runs in the same folder, as a later step
or job with the spool kept as an artifact would. And one bad spool file does not stop
`sync` from sending the good ones.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

from mlflow_gitlab.relay.points import Point
from mlflow_gitlab.relay.spool import Spool
from tests.api.relay_env import job_env, job_run, steps
from tests.cli import mlflow_gitlab, popen, record

LOG_FOREVER = textwrap.dedent("""
    import os, sys, time, mlflow
    from pathlib import Path
    Path(sys.argv[1]).write_text(str(os.getpid()))
    for step in range(int(sys.argv[2])):
        mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
    time.sleep(600)  # killed before
""")


def gone(pid: int) -> bool:
    """No such process, or only its zombie (nobody may reap it in a container)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except FileNotFoundError:
        return True


def wait(what: str, ready, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def test_a_sigkilled_helper_takes_its_command_along_and_sync_delivers_every_point_once(
        sandbox, mlflow_client, tmp_path):
    script, pid_file = tmp_path / "train.py", tmp_path / "child.pid"
    script.write_text(LOG_FOREVER)
    env = job_env(sandbox)
    # A slow GitLab: the relay sends far slower than the command logs, so at the kill most
    # points are only in the journal, however fast or busy this machine is.
    sandbox.inject("POST", r"/runs/log-batch$", delay=0.3, times=10_000)
    helper = popen("run", "--", sys.executable, str(script), str(pid_file), "100000", env=env,
                   cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait("the command started", pid_file.exists)
        wait("the run exists", lambda: _job_runs(mlflow_client))
        run_id = job_run(mlflow_client).info.run_id
        # some points are on the server, many more only in the journal and the queue
        wait("points reached the server", lambda: len(steps(mlflow_client, run_id)) > 1000)
    finally:
        helper.send_signal(signal.SIGKILL)
        killed_at = time.monotonic()
        child = int(pid_file.read_text()) if pid_file.exists() else None
        try:
            wait("the command died with its helper", lambda: child is None or gone(child),
                 timeout=5)
        finally:
            if child is not None and not gone(child):
                os.kill(child, signal.SIGKILL)  # not to leave it running when this fails
            out, err = helper.communicate(timeout=30)
            record(("run",), out, err)
    assert time.monotonic() - killed_at < 2
    assert job_run(mlflow_client).info.status == "RUNNING"  # nobody ended it yet
    before = len(steps(mlflow_client, run_id))
    sandbox.clear_faults()

    result = mlflow_gitlab("sync", env=env, cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    stored = steps(mlflow_client, run_id)
    assert stored == list(range(len(stored)))  # every point the command logged, once
    assert len(stored) > before  # the journal held points the relay had not sent
    assert f"run {run_id} ended KILLED" in result.stderr
    assert job_run(mlflow_client).info.status == "KILLED"
    assert not (tmp_path / ".mlflow-gitlab" / "spool").exists() or not any(
        (tmp_path / ".mlflow-gitlab" / "spool").iterdir())
    again = mlflow_gitlab("sync", env=env, cwd=tmp_path)  # nothing left to send twice
    assert again.returncode == 0, again.stderr
    assert steps(mlflow_client, run_id) == stored


LOG_THEN_WAIT = textwrap.dedent("""
    import sys, time, mlflow
    from pathlib import Path
    for step in range(50):
        mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
    Path(sys.argv[1]).touch()
    time.sleep(600)  # killed before
""")


def test_points_the_relay_held_while_gitlab_was_down_survive_a_kill_of_the_helper(
        sandbox, mlflow_client, tmp_path):
    script, logged = tmp_path / "train.py", tmp_path / "logged"
    script.write_text(LOG_THEN_WAIT)
    env = job_env(sandbox)
    sandbox.inject("POST", r"/runs/log-batch$", status=503, times=100_000)  # nothing stored
    helper = popen("run", "--", sys.executable, str(script), str(logged), env=env,
                   cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait("the command logged its points", logged.exists)
    finally:
        helper.send_signal(signal.SIGKILL)
        out, err = helper.communicate(timeout=30)
        record(("run",), out, err)
    run_id = job_run(mlflow_client).info.run_id
    assert steps(mlflow_client, run_id) == []
    sandbox.clear_faults()  # GitLab is back

    result = mlflow_gitlab("sync", env=env, cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    # step 0 went over HTTP (the first point of a run does) and waited in the relay's
    # memory; the others were journaled
    assert steps(mlflow_client, run_id) == list(range(50))
    assert job_run(mlflow_client).info.status == "KILLED"


def _job_runs(mlflow_client) -> bool:
    experiment = mlflow_client.get_experiment_by_name("demo-project")
    return experiment is not None and bool(mlflow_client.search_runs(
        [experiment.experiment_id]))


def test_a_bad_spool_file_is_reported_and_the_good_ones_are_still_sent(
        sandbox, mlflow_client, tmp_path):
    experiment_id = mlflow_client.create_experiment("spooled")
    runs = [mlflow_client.create_run(experiment_id).info.run_id for _ in range(2)]
    spool = Spool(tmp_path / ".mlflow-gitlab" / "spool")
    for run_id in runs:
        spool.add(run_id, [Point("acc", i / 10, 1_700_000_000_000 + i, i) for i in range(10)])
    edited, binary = spool.folder / "0-edited.jsonl", spool.folder / "1-binary.jsonl"
    edited.write_text('{"run_id": "x", "metrics": [{"key": "acc"}]}\nnot json\n')
    binary.write_bytes(b"\xff\xfe\x00garbage\n")
    for path in (edited, binary):
        os.utime(path, (0, 0))  # older than the good files: looked at first
    before = {path: path.read_bytes() for path in (edited, binary)}

    result = mlflow_gitlab("sync", env=job_env(sandbox), cwd=tmp_path)

    assert result.returncode == 1, result.stderr
    lines = result.stderr.splitlines()
    assert lines == [
        "mlflow-gitlab: sync: 20 point(s) in 2 file(s): 20 sent, 0 already stored, 0 left",
        "mlflow-gitlab: sync: .mlflow-gitlab/spool/0-edited.jsonl: line 1 is not a batch of "
        "metric points (Missing or invalid value for metric 'acc') (kept, not sent)",
        "mlflow-gitlab: sync: .mlflow-gitlab/spool/1-binary.jsonl: not a spool file (not "
        "UTF-8 text) (kept, not sent)",
        "error: 2 file(s) of the spool could not be sent (listed above)"], result.stderr
    for run_id in runs:
        assert steps(mlflow_client, run_id, "acc") == list(range(10))
    assert {path: path.read_bytes() for path in (edited, binary)} == before  # kept as were
    assert sorted(p.name for p in spool.folder.iterdir()) == [edited.name, binary.name]
