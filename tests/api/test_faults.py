"""Faults mid-run: each ends in a state that a re-run completes, nothing duplicated or lost.

The sandbox restarts while a tracked command logs metrics, the helper is SIGKILLed between
creating a model version and uploading its files, and `mlflow-gitlab upload` loses its
connection or is SIGKILLed mid-file. (A SIGKILLed child, a failed copy during a release,
429/503 on the relay and drops in the upload library are tested next to their features.)
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.api.relay_env import job_env, job_run, relay_counts, steps
from tests.api.test_release import MODEL, Lab, signature
from tests.cli import mlflow_gitlab, popen, record

# --- helpers ----------------------------------------------------------------------------


def start(env: dict[str, str], *args: str, cwd: Path | None = None) -> subprocess.Popen[str]:
    """`mlflow-gitlab <args>` in the background, its output captured."""
    return popen(*args, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                 text=True)


def finish(proc: subprocess.Popen[str], *args: str, timeout: float = 60) -> tuple[str, str]:
    """Wait for a background command; keep its output for the secrets scan."""
    out, err = proc.communicate(timeout=timeout)
    record(args, out, err)
    return out, err


def wait_for(what: str, ready: Callable[[], object], proc: subprocess.Popen[str],
             timeout: float = 60) -> None:
    """Poll until `ready()`; fail at once, with its output, if `proc` ended first."""
    deadline = time.monotonic() + timeout
    while not ready():
        if proc.poll() is not None:
            out, err = finish(proc)
            pytest.fail(f"the command ended ({proc.returncode}) before {what}:\n{out}{err}")
        if time.monotonic() > deadline:
            proc.kill()
            finish(proc)
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.02)


def kill(proc: subprocess.Popen[str], *args: str) -> None:
    """SIGKILL, as an OOM killer or a cancelled job's runner does."""
    proc.send_signal(signal.SIGKILL)
    finish(proc, *args)
    assert proc.returncode == -signal.SIGKILL


def fired(sandbox, pattern: str) -> bool:
    return any(pattern in str(f["path"]) for f in sandbox.fired)


def stored_copies(sandbox, package: str) -> dict[str, list[int]]:
    """The sandbox's own record: file name -> size of every copy stored in `package`."""
    rows = sandbox.app.store.all(
        "SELECT f.file_name, f.size FROM package_files f JOIN packages p "
        "ON p.id = f.package_id WHERE p.name = ? ORDER BY f.id", package)
    copies: dict[str, list[int]] = {}
    for row in rows:
        copies.setdefault(row["file_name"], []).append(row["size"])
    return copies


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --- the sandbox restarts while a tracked command logs ------------------------------------

TRAIN = textwrap.dedent("""
    import sys, time, mlflow
    from pathlib import Path

    flags, n, mode = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3]

    def log(phase):
        for step in range(phase * n, (phase + 1) * n):
            mlflow.log_metric("loss", 1.0 / (step + 1), step=step)

    def wait(name):
        while not (flags / name).exists():
            time.sleep(0.02)

    with mlflow.start_run() as run:
        (flags / "started").touch()
        wait("go")
        log(0)
        if mode == "spool":
            mlflow.get_run(run.info.run_id)  # a read waits until the points are sent
        (flags / "logged-before").touch()
        wait("down")
        log(1)  # while GitLab is down: the relay answers, and sends later
        (flags / "logged-during").touch()
        if mode == "spool":
            wait("up")
            log(2)
""")
POINTS = 150  # per phase


@pytest.fixture
def train(tmp_path: Path) -> tuple[Path, Path]:
    script, flags = tmp_path / "train.py", tmp_path / "flags"
    script.write_text(TRAIN)
    flags.mkdir()
    return script, flags


def spooled(folder: Path) -> int:
    """Metric points in the relay's spool files (a line being written is not counted)."""
    count = 0
    for path in folder.glob("*.jsonl"):
        for line in path.read_text().splitlines():
            with contextlib.suppress(ValueError):
                count += len(json.loads(line)["metrics"])
    return count




@pytest.mark.slow
def test_a_sandbox_restart_mid_run_loses_and_duplicates_no_point(sandbox, mlflow_client,
                                                                   train, tmp_path):
    script, flags = train
    args = ("run", "--", sys.executable, str(script), str(flags), str(POINTS), "restart")
    proc = start(job_env(sandbox), *args, cwd=tmp_path)
    wait_for("the command's run started", (flags / "started").exists, proc)
    # The first batch is still in the server when it goes down, so its answer is lost.
    sandbox.inject("POST", r"/runs/log-batch$", delay=1)
    (flags / "go").touch()
    wait_for("a batch is in the server", lambda: fired(sandbox, "log-batch"), proc)
    with sandbox.outage():  # connections cut, new ones refused, for a few seconds
        wait_for("the first points were logged", (flags / "logged-before").exists, proc)
        (flags / "down").touch()
        wait_for("points were logged during the outage", (flags / "logged-during").exists,
                 proc)
        time.sleep(0.5)  # the command ends meanwhile; `run` waits to send its points
    _, err = finish(proc, *args)
    assert proc.returncode == 0, err
    run = job_run(mlflow_client)
    assert run.info.status == "FINISHED"
    assert steps(mlflow_client, run.info.run_id) == list(range(2 * POINTS))  # each once
    sent, taken, _ = relay_counts(err)
    assert (sent, taken) == (2 * POINTS, 2 * POINTS)
    assert "1 lost answer(s) checked" in err  # read back, then sent again: not stored
    assert not (tmp_path / ".mlflow-gitlab").exists()  # nothing left to sync


@pytest.mark.slow
def test_points_unsent_past_the_retry_budget_are_spooled_and_synced_once(
        sandbox, mlflow_client, train, tmp_path):
    script, flags = train
    env = job_env(sandbox, MLFLOW_GITLAB_RETRY_SECONDS="2")
    args = ("run", "--", sys.executable, str(script), str(flags), str(POINTS), "spool")
    (flags / "go").touch()
    proc = start(env, *args, cwd=tmp_path)
    wait_for("the first points were logged", (flags / "logged-before").exists, proc)
    spool = tmp_path / ".mlflow-gitlab" / "spool"
    with sandbox.outage():  # longer than the 2 s retry budget
        (flags / "down").touch()
        wait_for("the relay gave up and spooled the points",
                 lambda: spooled(spool) == POINTS, proc)
    (flags / "up").touch()
    _, err = finish(proc, *args)
    assert proc.returncode == 0, err  # the command's own exit code
    run = job_run(mlflow_client)
    run_id = run.info.run_id
    assert run.info.status == "FINISHED"
    sent, taken, _ = relay_counts(err)
    assert (sent, taken) == (2 * POINTS, 3 * POINTS)
    assert f"{POINTS} kept in .mlflow-gitlab/spool for `mlflow-gitlab sync`" in err
    assert "send them later with: mlflow-gitlab sync --spool .mlflow-gitlab/spool" in err
    assert steps(mlflow_client, run_id) == [*range(POINTS), *range(2 * POINTS, 3 * POINTS)]

    synced = mlflow_gitlab("sync", env=env, cwd=tmp_path)
    assert synced.returncode == 0, synced.stderr
    assert f"{POINTS} point(s) in 1 file(s): {POINTS} sent, 0 already stored, 0 left" \
        in synced.stderr
    assert steps(mlflow_client, run_id) == list(range(3 * POINTS))  # each exactly once
    assert list(spool.glob("*.jsonl")) == []
    again = mlflow_gitlab("sync", env=env, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert steps(mlflow_client, run_id) == list(range(3 * POINTS))


# --- the helper is killed between creating a model version and uploading its files -------

WEIGHTS = 16 << 20  # far over the socket buffers: a killed upload of it is cut mid-body
STALL = 1.0  # seconds the server holds an upload: long enough to kill its client meanwhile


@pytest.mark.slow
def test_a_release_killed_before_its_files_are_up_is_completed_by_a_rerun(sandbox, api,
                                                                         tmp_path):
    lab = Lab(sandbox, api, tmp_path)
    pipeline = lab.pipeline()
    run_id = lab.train(pipeline, 0.2, signature(), extra={"weights.bin": os.urandom(WEIGHTS)})
    env = lab.env(pipeline)
    args = ("release", "--model", MODEL, "--metric", "loss")
    model_files = ("MLmodel", "model.pkl", "weights.bin")
    # The version's files stall on their way in; the release is killed meanwhile.
    sandbox.inject("PUT", r"/packages/ml_models/\d+/files/", delay=STALL, times=10)
    proc = start(env, *args)
    wait_for("the model version exists", lab.versions, proc)
    wait_for("its files are being uploaded",
             lambda: all(fired(sandbox, name) for name in model_files), proc)
    stalled_until = time.monotonic() + STALL
    kill(proc, *args)
    version = lab.versions()["1.0.0"]
    assert version["description"].startswith("INCOMPLETE: its files are being copied")
    assert lab.model_file(version["version"], "manifest.json").status_code == 404

    sandbox.clear_faults()
    rerun = mlflow_gitlab(*args, env=env)
    assert rerun.returncode == 0, rerun.stderr
    assert rerun.stdout == "1.0.0\n"
    versions = lab.versions()
    assert set(versions) == {"1.0.0"}  # the same version, no second one
    assert versions["1.0.0"]["version"] == version["version"]
    version = versions["1.0.0"]
    assert version["description"].startswith("Released from run")
    source = tmp_path / run_id / "outputs" / "model"
    expected = {name: sha256(source / name) for name in model_files}
    manifest = lab.model_file(version["version"], "manifest.json")
    assert {f["path"]: f["sha256"] for f in manifest.json()["files"]} == expected
    for name in model_files:
        assert lab.model_file(version["version"], name).content == (source / name).read_bytes()
    # A killed request whose body was all sent may be stored as well (GitLab appends), and
    # one cut short must not be: every copy in the package is whole and equal to the source.
    time.sleep(max(0.0, stalled_until + 0.5 - time.monotonic()))  # the killed requests end
    rows = sandbox.app.store.all(
        "SELECT f.file_name, f.file_sha256 FROM package_files f JOIN model_versions v "
        "ON v.package_id = f.package_id WHERE v.id = ?", version["version"])
    expected["manifest.json"] = hashlib.sha256(manifest.content).hexdigest()
    assert {(row["file_name"], row["file_sha256"]) for row in rows} == set(expected.items())


# --- `mlflow-gitlab upload`: a dropped connection, and a SIGKILL mid-file -----------------

PACKAGE, VERSION = "weights", "1.0.0"


@pytest.fixture
def outputs(tmp_path: Path) -> Path:
    work = tmp_path / "job"
    (work / "outputs" / "model").mkdir(parents=True)
    (work / "outputs" / "model" / "weights.bin").write_bytes(os.urandom(WEIGHTS))
    (work / "outputs" / "metrics.json").write_text('{"loss": 0.25}')
    (work / "outputs" / "notes.txt").write_text("trained on this week's data\n")
    return work


def upload_env(sandbox) -> dict[str, str]:
    return job_env(sandbox, MLFLOW_GITLAB_RETRY_ATTEMPTS="3")


def download_matches(sandbox, work: Path, dest: Path) -> None:
    """`mlflow-gitlab download` (which verifies every file) restores `outputs` exactly."""
    down = mlflow_gitlab("download", "--package", PACKAGE, "--version", VERSION,
                         "--dest", str(dest), "--json", env=upload_env(sandbox))
    assert down.returncode == 0, down.stderr
    assert json.loads(down.stdout)["files"] == 3
    for path in (work / "outputs").rglob("*"):
        if path.is_file():
            restored = dest / path.relative_to(work)
            assert restored.read_bytes() == path.read_bytes(), path


def test_upload_through_a_connection_dropped_mid_file(sandbox, outputs, tmp_path):
    sandbox.inject("PUT", r"weights\.bin", drop=True, drop_after=1 << 20)
    up = mlflow_gitlab("upload", "outputs", "--package", PACKAGE, "--version", VERSION,
                       "--json", env=upload_env(sandbox), cwd=outputs)
    assert up.returncode == 0, up.stderr
    assert [f["drop"] for f in sandbox.fired] == [True]
    assert json.loads(up.stdout)["uploaded"] == 3
    copies = stored_copies(sandbox, PACKAGE)
    assert copies["outputs%2Fmodel%2Fweights.bin"] == [WEIGHTS]  # one copy, whole
    assert all(len(sizes) == 1 for sizes in copies.values()), copies
    download_matches(sandbox, outputs, tmp_path / "restored")


@pytest.mark.slow
def test_upload_killed_mid_file_is_finished_by_a_rerun(sandbox, outputs, tmp_path):
    env = upload_env(sandbox)
    args = ("upload", "outputs", "--package", PACKAGE, "--version", VERSION, "--json")
    sandbox.inject("PUT", r"weights\.bin", delay=STALL)
    proc = start(env, *args, cwd=outputs)
    wait_for("the weights are being uploaded", lambda: fired(sandbox, "weights.bin"), proc)
    stalled_until = time.monotonic() + STALL
    wait_for("the other files are stored", lambda: len(stored_copies(sandbox, PACKAGE)) == 2,
             proc)
    kill(proc, *args)
    early = mlflow_gitlab("download", "--package", PACKAGE, "--version", VERSION, "--dest",
                          str(tmp_path / "early"), env=env)
    assert early.returncode == 1  # visibly incomplete: no manifest yet
    assert early.stderr.splitlines()[0] == f"error: package {PACKAGE} {VERSION} has no " \
                                           "manifest.json"

    sandbox.clear_faults()
    rerun = mlflow_gitlab(*args, env=env, cwd=outputs)
    assert rerun.returncode == 0, rerun.stderr
    summary = json.loads(rerun.stdout)
    assert (summary["uploaded"], summary["skipped"]) == (1, 2)  # only what was missing
    time.sleep(max(0.0, stalled_until + 0.5 - time.monotonic()))  # the killed request ends
    copies = stored_copies(sandbox, PACKAGE)
    assert all(len(sizes) == 1 for sizes in copies.values()), copies  # nothing twice
    assert copies["outputs%2Fmodel%2Fweights.bin"] == [WEIGHTS]  # nothing short
    assert list(sandbox.app.store.tmp_dir.iterdir()) == []
    download_matches(sandbox, outputs, tmp_path / "restored")
