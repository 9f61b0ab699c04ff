"""The metric journal: a tracked command's `log_metric` is a file append, and nothing is lost.

Each test runs `mlflow-gitlab run` against the sandbox; the command uses plain MLflow, which
picks up the journaling store through the plugin entry point.
"""

from __future__ import annotations

import json
import sys
import textwrap

import pytest

from tests.api.relay_env import job_env, job_run, relay_counts, steps
from tests.cli import mlflow_gitlab


def tracked(tmp_path, sandbox, code: str, *options: str):
    """Run `code` as the tracked command under `mlflow-gitlab run`."""
    script = tmp_path / "train.py"
    script.write_text(textwrap.dedent(code))
    return mlflow_gitlab("run", *options, "--", sys.executable, str(script),
                         cwd=tmp_path, env=job_env(sandbox))




def test_points_logged_before_a_sigkill_arrive_once_and_the_journal_is_removed(
        sandbox, mlflow_client, tmp_path):
    result = tracked(tmp_path, sandbox, """
        import json, os, signal, mlflow
        for step in range(3000):
            mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
        folder = os.environ["MLFLOW_GITLAB_JOURNAL_DIR"]
        open("journal.json", "w").write(json.dumps([folder, os.listdir(folder)]))
        os.kill(os.getpid(), signal.SIGKILL)  # no exit handlers, no end_run
    """)
    assert result.returncode == 128 + 9, result.stderr
    folder, files = json.loads((tmp_path / "journal.json").read_text())
    # the record and the copy of HTTP points are for `sync` after a kill of the helper
    segments = [name for name in files if name not in ("helper.json", "http")]
    assert segments and all(name.endswith(".jsonl") for name in segments)  # points went there
    assert folder.startswith(str(tmp_path / ".mlflow-gitlab" / "spool" / "journal-"))
    run = job_run(mlflow_client)
    assert run.info.status == "KILLED"
    assert steps(mlflow_client, run.info.run_id, "loss") == list(range(3000))
    assert relay_counts(result.stderr)[:2] == (3000, 3000)
    assert not (tmp_path / folder).exists()
    assert not (tmp_path / ".mlflow-gitlab").exists()  # made for the journal, and removed


def test_forked_workers_and_their_parent_each_get_every_point_through(
        sandbox, mlflow_client, tmp_path):
    result = tracked(tmp_path, sandbox, """
        import multiprocessing, os, mlflow
        run_id = os.environ["MLFLOW_RUN_ID"]
        client = mlflow.MlflowClient()

        def work(worker):
            for step in range(500):
                client.log_metric(run_id, f"w{worker}", step, step=step)

        client.log_metric(run_id, "parent", 0, step=0)  # the store exists before the fork
        context = multiprocessing.get_context("fork")
        workers = [context.Process(target=work, args=(i,)) for i in range(3)]
        for w in workers:
            w.start()
        for step in range(1, 500):
            client.log_metric(run_id, "parent", step, step=step)
        for w in workers:
            w.join()
            assert w.exitcode == 0
    """)
    assert result.returncode == 0, result.stderr
    run_id = job_run(mlflow_client).info.run_id
    for key in ("parent", "w0", "w1", "w2"):
        assert steps(mlflow_client, run_id, key) == list(range(500)), key


def test_a_point_gitlab_would_refuse_fails_its_call_and_nothing_of_its_batch_is_stored(
        sandbox, mlflow_client, tmp_path):
    result = tracked(tmp_path, sandbox, """
        import os, time, mlflow
        from mlflow.entities import Metric
        from mlflow.exceptions import MlflowException
        run_id, client = os.environ["MLFLOW_RUN_ID"], mlflow.MlflowClient()
        client.log_metric(run_id, "loss", 1.0, step=0)
        for call in (lambda: client.log_metric(run_id, "k" * 251, 1.0),
                     lambda: client.log_batch(run_id, metrics=[
                         Metric("loss", 2.0, int(time.time() * 1000), 1),
                         Metric("loss", "many", int(time.time() * 1000), 2)])):
            try:
                call()
            except MlflowException as exc:
                print("refused:", exc)
        client.log_metric(run_id, "loss", 3.0, step=3)
    """)
    assert result.returncode == 0, result.stderr
    refusals = [line for line in result.stdout.splitlines() if line.startswith("refused:")]
    assert len(refusals) == 2, result.stdout
    assert "longer than GitLab's 250 characters" in refusals[0]
    assert "is not a number" in refusals[1]
    run_id = job_run(mlflow_client).info.run_id
    assert steps(mlflow_client, run_id, "loss") == [0, 3]


def test_without_a_writable_journal_points_go_to_the_relay_over_http(
        sandbox, mlflow_client, tmp_path):
    result = tracked(tmp_path, sandbox, """
        import os
        os.environ["MLFLOW_GITLAB_JOURNAL_DIR"] = "/nonexistent/journal"
        import mlflow
        for step in range(200):
            mlflow.log_metric("loss", step, step=step)
    """)
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("cannot write the metric journal") == 1
    run_id = job_run(mlflow_client).info.run_id
    assert steps(mlflow_client, run_id, "loss") == list(range(200))


def test_no_journal_sends_each_point_to_the_relay(sandbox, mlflow_client, tmp_path):
    result = tracked(tmp_path, sandbox, """
        import os, mlflow
        assert "MLFLOW_GITLAB_JOURNAL_DIR" not in os.environ
        for step in range(200):
            mlflow.log_metric("loss", step, step=step)
    """, "--no-journal")
    assert result.returncode == 0, result.stderr
    run_id = job_run(mlflow_client).info.run_id
    assert steps(mlflow_client, run_id, "loss") == list(range(200))
    assert relay_counts(result.stderr)[:2] == (200, 200)


@pytest.mark.parametrize("journal", [(), ("--no-journal",)])
@pytest.mark.parametrize("value", ["nan", "-inf"])
def test_a_value_gitlab_cannot_store_fails_the_call_at_once(
        sandbox, mlflow_client, tmp_path, value, journal):
    result = tracked(tmp_path, sandbox, f"""
        import mlflow
        from mlflow.exceptions import MlflowException
        mlflow.log_metric("x", 1.0, step=0)
        try:
            mlflow.log_metric("x", float("{value}"), step=1)
        except MlflowException as exc:
            print("refused:", exc)
    """, *journal)
    assert result.returncode == 0, result.stderr
    assert "is not a finite number, which GitLab requires" in result.stdout
    history = mlflow_client.get_metric_history(job_run(mlflow_client).info.run_id, "x")
    assert [p.value for p in history] == [1.0]
    assert "refused by the server" not in result.stderr
