"""`mlflow-gitlab report` against the sandbox: one MR note, updated in place; baselines;
the file fallback without an access token; metrics.txt; the note size limit."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests import ci_envs
from tests.cli import home, mlflow_gitlab

MARKER = "<!-- mlflow-gitlab:report model=demo-project -->"
NOTES = "/projects/7/merge_requests/1/notes"


@pytest.fixture(autouse=True)
def _quiet_mlflow(monkeypatch):
    monkeypatch.setenv("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")


def job_env(sandbox, tmp_path: Path, *, gitlab_token: str | None = "developer",
            make=ci_envs.merge_request, **extra: str) -> dict[str, str]:
    """A report job's environment, as GitLab sets it, pointed at the sandbox."""
    env = make(**extra)
    env.update({
        "PATH": os.environ["PATH"], "HOME": home(),
        "CI_SERVER_URL": sandbox.url, "CI_API_V4_URL": sandbox.api_url,
        "CI_PROJECT_URL": f"{sandbox.url}/ml-team/demo-project",
        "CI_PROJECT_NAME": "demo-project",
        "CI_JOB_ID": extra.get("CI_JOB_ID", "5001"),
        "CI_JOB_TOKEN": extra.get("CI_JOB_TOKEN", sandbox.tokens["job"]),
        "MLFLOW_TRACKING_TOKEN": sandbox.tokens["developer"],
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
        "MLFLOW_GITLAB_RETRY_ATTEMPTS": "2",
    })
    if gitlab_token:
        env["MLFLOW_GITLAB_TOKEN"] = sandbox.tokens.get(gitlab_token, gitlab_token)
    return env


def report(env, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return mlflow_gitlab("report", "--output", str(tmp_path / "report.md"),
                         "--metrics-file", str(tmp_path / "metrics.txt"), *args, env=env,
                         timeout=120)


def make(env, tmp_path: Path, **options):
    """The report in-process (the CLI's one library call), for tests about its content."""
    from mlflow_gitlab.report.flow import make_report
    from mlflow_gitlab.report.options import ReportOptions

    options.setdefault("metric", "loss")
    return make_report(ReportOptions(output=tmp_path / "report.md",
                                     metrics_file=tmp_path / "metrics.txt", **options), env)


def log_runs(client, pipeline_id: int, job_ids, losses, *, mr_iid: str | None = "1",
             ref: str = "tune-learning-rate", experiment: str = "demo-project",
             pipeline_iid: str = "1", name: str | None = None):
    """Finished job runs as `mlflow-gitlab run` leaves them: one per job, with CI tags."""
    from concurrent.futures import ThreadPoolExecutor

    from mlflow.entities import Metric, Param

    experiment_id = (client.get_experiment_by_name(experiment)
                     or client.get_experiment(client.create_experiment(experiment))).experiment_id

    def one(job_id, loss):
        lr = f"{loss / 10:g}"
        tags = {"mlflow-gitlab.role": "job", "gitlab.CI_PIPELINE_ID": str(pipeline_id),
                "gitlab.CI_PIPELINE_IID": pipeline_iid, "gitlab.CI_COMMIT_REF_NAME": ref,
                "gitlab.CI_JOB_URL": f"https://gitlab.example.com/-/jobs/{job_id}",
                "gitlab.CI_PIPELINE_URL": f"https://gitlab.example.com/-/pipelines/{pipeline_id}",
                "gitlab.matrix.LR": lr, "mlflow.runName": name or f"train [LR={lr}]"}
        if job_id is not None:
            tags["gitlab.CI_JOB_ID"] = str(job_id)
        if mr_iid:
            tags["gitlab.CI_MERGE_REQUEST_IID"] = mr_iid
        run = client.create_run(experiment_id, run_name=tags["mlflow.runName"], tags=tags)
        client.log_batch(run.info.run_id, params=[Param("lr", lr), Param("epochs", "10")],
                         metrics=[Metric("loss", loss, 0, 0), Metric("accuracy", 1 - loss, 0, 0)])
        client.set_terminated(run.info.run_id, "FINISHED")
        return run.info.run_id

    with ThreadPoolExecutor(8 if len(losses) > 10 else 1) as pool:
        return list(pool.map(one, job_ids, losses))


def new_pipeline(api, **fields) -> dict:
    fields.setdefault("ref", "refs/merge-requests/1/head")
    fields.setdefault("source", "merge_request_event")
    r = api.admin("POST", "/-/sandbox/pipelines", json=fields)
    assert r.status_code == 201, r.text
    return r.json()


def marker_notes(api, token: str = "developer") -> list[dict]:
    notes = api.request("GET", NOTES, token=token, params={"per_page": 100}).json()
    return [n for n in notes if MARKER in n["body"]]


def test_the_note_is_created_once_then_updated_by_the_next_pipeline(
        sandbox, api, mlflow_client, tmp_path):
    log_runs(mlflow_client, 1001, [5001, 5002], [0.3, 0.2])
    first = report(job_env(sandbox, tmp_path), tmp_path, "--metric", "loss")
    assert first.returncode == 0, first.stderr
    (note,) = marker_notes(api)
    assert note["author"]["username"] == "dev"
    assert note["body"].startswith(MARKER + "\n")
    assert "**Winner: [train \\[LR=0.02\\]]" in note["body"]
    assert (tmp_path / "report.md").read_text() == note["body"]
    assert (tmp_path / "metrics.txt").read_text() == "accuracy 0.8\nloss 0.2\n"
    assert f"merge_requests/1#note_{note['id']}" in first.stderr

    # The next pipeline of the MR: new jobs, new runs, a better candidate.
    pipeline = new_pipeline(api, jobs=[{"name": "train: [0.01]", "status": "running"},
                                       {"name": "report", "status": "running"}])
    train, job = pipeline["jobs"]
    log_runs(mlflow_client, pipeline["pipeline_id"], [train["id"]], [0.1],
             pipeline_iid=str(pipeline["iid"]))
    env = job_env(sandbox, tmp_path, CI_PIPELINE_ID=str(pipeline["pipeline_id"]),
                  CI_PIPELINE_IID=str(pipeline["iid"]), CI_JOB_ID=str(job["id"]),
                  CI_JOB_TOKEN=job["token"])
    second = report(env, tmp_path, "--metric", "loss")
    assert second.returncode == 0, second.stderr
    (updated,) = marker_notes(api)
    assert updated["id"] == note["id"]
    assert "1 finished run of [pipeline #2]" in updated["body"]
    assert "**Winner: [train \\[LR=0.01\\]]" in updated["body"]
    assert "note updated" in second.stderr


def test_notes_with_the_marker_by_other_authors_are_left_alone(sandbox, api, mlflow_client,
                                                               tmp_path):
    log_runs(mlflow_client, 1001, [5001], [0.3])
    quoted = f"{MARKER}\nI copied the bot's report here."
    r = api.request("POST", NOTES, token="maintainer", json={"body": quoted})
    assert r.status_code == 201
    outcome = make(job_env(sandbox, tmp_path), tmp_path)
    assert outcome.note.action == "created"
    notes = marker_notes(api)
    assert sorted(n["author"]["username"] for n in notes) == ["dev", "project_7_bot_ml"]
    assert next(n for n in notes if n["id"] == r.json()["id"])["body"] == quoted


def test_with_only_the_job_token_the_report_is_a_file_and_a_hint(sandbox, api, mlflow_client,
                                                                 tmp_path):
    log_runs(mlflow_client, 1001, [5001, 5002], [0.3, 0.2])
    result = report(job_env(sandbox, tmp_path, gitlab_token=None), tmp_path, "--metric", "loss")
    assert result.returncode == 0, result.stderr
    assert marker_notes(api) == []
    assert (tmp_path / "report.md").read_text().startswith(MARKER)
    assert (tmp_path / "metrics.txt").read_text() == "accuracy 0.8\nloss 0.2\n"
    assert result.stderr.splitlines()[-2:] == [
        "mlflow-gitlab: no merge request note: only CI_JOB_TOKEN is available, and GitLab does "
        f"not let it write notes; the report is in {tmp_path / 'report.md'}",
        "mlflow-gitlab: hint: to post the report on the merge request, add a CI/CD variable "
        "MLFLOW_GITLAB_TOKEN holding a project access token with the `api` scope (Developer "
        "role); make it masked but not protected, since protected variables do not reach "
        "merge request pipelines"]


def test_a_read_only_token_falls_back_to_the_file(sandbox, api, mlflow_client, tmp_path):
    log_runs(mlflow_client, 1001, [5001], [0.3])
    outcome = make(job_env(sandbox, tmp_path, gitlab_token="read_api"), tmp_path)
    assert (outcome.note, outcome.output) == (None, tmp_path / "report.md")
    assert marker_notes(api) == []


def test_target_branch_baseline_marks_better_and_worse(sandbox, api, mlflow_client, tmp_path):
    main = new_pipeline(api, ref="main", source="push", status="success",
                        jobs=[{"name": "train", "status": "success"}] * 2)
    log_runs(mlflow_client, main["pipeline_id"], [j["id"] for j in main["jobs"]], [0.4, 0.25],
             mr_iid=None, ref="main", pipeline_iid=str(main["iid"]))
    log_runs(mlflow_client, 1001, [5001, 5002], [0.3, 0.2])
    make(job_env(sandbox, tmp_path), tmp_path, top=1)
    body = (tmp_path / "report.md").read_text()
    assert "**Baseline:** best run of [main pipeline #2]" in body
    assert "loss = **0.2**, ✅ better than the baseline (0.05 lower, -20.0%)" in body
    assert "_…and 1 more candidate: loss from 0.3 to 0.3, median 0.3; 0 better" in body
    assert "line [0.25]" in body


def test_long_matrix_names_keep_every_key_in_the_note(sandbox, api, mlflow_client, tmp_path):
    """The run name of a four-key matrix job is longer than a table cell: values are cut,
    keys never, and the winner's wording says which way its metric moved."""
    long_name = ("mlflow-tune [LEARNING_RATE=0.001, MAX_DEPTH=12, N_ESTIMATORS=500, "
                 "SUBSAMPLE=0.8]")
    log_runs(mlflow_client, 1001, [5001, 5002], [0.3, 0.2], name=long_name)
    result = report(job_env(sandbox, tmp_path), tmp_path, "--metric", "loss")
    assert result.returncode == 0, result.stderr
    (note,) = marker_notes(api)
    winner = next(line for line in note["body"].splitlines() if "Winner" in line)
    for key in ("LEARNING_RATE=", "MAX_DEPTH=", "N_ESTIMATORS=", "SUBSAMPLE="):
        assert key in winner, winner
    rows = [line for line in note["body"].splitlines() if line.startswith("| ")][2:]
    assert rows and all("SUBSAMPLE=" in row for row in rows)


def test_latest_version_baseline_for_a_max_metric(sandbox, mlflow_client, tmp_path):
    mlflow_client.create_registered_model("demo-model")
    mlflow_client.create_model_version("demo-model", source="", tags={
        "gitlab.version": "1.2.0", "mlflow-gitlab.metric.accuracy": "0.75"})
    mlflow_client.create_model_version("demo-model", source="", tags={
        "gitlab.version": "1.3.0-mr.1.1", "mlflow-gitlab.metric.accuracy": "0.99"})
    log_runs(mlflow_client, 1001, [5001, 5002], [0.3, 0.2])
    outcome = make(job_env(sandbox, tmp_path), tmp_path, metric="accuracy", mode="max",
                   model="demo-model")
    assert outcome.note.action == "created"
    body = (tmp_path / "report.md").read_text()
    assert body.startswith("<!-- mlflow-gitlab:report model=demo-model -->")
    assert "**Baseline:** model version [demo-model 1.2.0]" in body
    assert "accuracy = **0.8**, ✅ better than the baseline (0.05 higher, +6.7%)" in body
    assert "| 0.7 | -0.05 (-6.7%) | ❌ worse |" in body


def test_merge_request_scope_takes_runs_of_every_pipeline(sandbox, api, mlflow_client,
                                                          tmp_path):
    pipeline = new_pipeline(api, jobs=[{"name": "train", "status": "running"}])
    log_runs(mlflow_client, 1001, [5001], [0.3])
    log_runs(mlflow_client, pipeline["pipeline_id"], [pipeline["jobs"][0]["id"]], [0.2],
             pipeline_iid=str(pipeline["iid"]))
    log_runs(mlflow_client, 1001, [5002], [0.1], mr_iid="2")  # another MR's run
    outcome = make(job_env(sandbox, tmp_path), tmp_path, scope="merge-request", note=False)
    assert (outcome.candidates, outcome.note) == (2, None)
    body = (tmp_path / "report.md").read_text()
    assert "2 finished runs of [this merge request]" in body
    assert "[pipeline #2](" in body and "[pipeline #1](" in body
    assert marker_notes(api) == []


def test_runs_link_to_their_output_packages(sandbox, api, mlflow_client, tmp_path):
    uploaded, tagged_only = log_runs(mlflow_client, 1001, [5001, 5002], [0.3, 0.2])
    r = api.request("PUT", f"/projects/7/packages/generic/ml_experiment_1/{uploaded}/"
                           "manifest.json", data=b"{}")
    assert r.status_code == 201
    for run_id in (uploaded, tagged_only):
        mlflow_client.set_tag(run_id, "mlflow-gitlab.package.name", "ml_experiment_1")
        mlflow_client.set_tag(run_id, "mlflow-gitlab.package.version", run_id)
    package = api.request("GET", "/projects/7/packages").json()[0]
    make(job_env(sandbox, tmp_path, gitlab_token=None), tmp_path)  # a job token may list them
    body = (tmp_path / "report.md").read_text()
    project = f"{sandbox.url}/ml-team/demo-project"
    assert f"[package]({project}/-/packages/{package['id']})" in body
    assert f"[package]({project}/-/packages?search[]=ml_experiment_1)" in body


def test_a_huge_report_is_cut_to_the_top_rows_under_the_note_limit(sandbox, api, mlflow_client,
                                                                   tmp_path):
    log_runs(mlflow_client, 1001, [None] * 300, [0.001 * n for n in range(1, 301)])
    # A team template that makes every row ~4,000 characters: 300 rows would be 1.2 MB.
    template = tmp_path / "team.md.j2"
    template.write_text('{% extends "mlflow_gitlab/report.md.j2" %}\n'
                        '{% block table %}{% for row in top %}\n'
                        '{{ row.candidate.name }} {{ "x" * 4000 }}{% endfor %}\n{% endblock %}')
    make(job_env(sandbox, tmp_path), tmp_path, top=300, template=template)
    (note,) = marker_notes(api)
    assert 900_000 < len(note["body"]) <= 1_000_000
    shown = note["body"].count("x" * 4000)
    assert 200 < shown < 250
    assert f"_…and {300 - shown} more candidates: loss from " in note["body"]


def test_fork_pipelines_without_the_tracking_token_report_nothing_and_pass(sandbox, tmp_path):
    env = job_env(sandbox, tmp_path, gitlab_token=None, make=ci_envs.fork_merge_request)
    del env["MLFLOW_TRACKING_TOKEN"]
    result = report(env, tmp_path, "--metric", "loss")
    assert result.returncode == 0, result.stderr
    assert "fork merge request pipeline" in result.stderr
    assert not (tmp_path / "report.md").exists()


def test_an_unknown_experiment_is_one_clear_error(sandbox, mlflow_env, tmp_path):
    from mlflow_gitlab.errors import ReportError

    with pytest.raises(ReportError) as caught:
        make(job_env(sandbox, tmp_path), tmp_path, experiment="nope")
    assert str(caught.value) == f"experiment 'nope' does not exist on {sandbox.tracking_uri}"
    assert caught.value.hint == ("pass --experiment (or set MLFLOW_EXPERIMENT_NAME) to the "
                                 "experiment the training jobs log to")


def test_the_notes_rate_limit_is_named_in_the_error(sandbox, api, mlflow_client, tmp_path):
    """GitLab's `notes_create` limit answers 429 `{"message":{"error":...}}`: retried, then
    said in GitLab's words."""
    from mlflow_gitlab.sandbox.rate_limits import RateLimiter

    log_runs(mlflow_client, 1001, [5001], [0.3])
    sandbox.app.notes_limiter = RateLimiter(1)
    sandbox.app.notes_limiter.check(11)  # the developer's one note of this minute
    env = job_env(sandbox, tmp_path, MLFLOW_GITLAB_RETRY_ATTEMPTS="2")
    result = report(env, tmp_path, "--metric", "loss")
    assert result.returncode == 1
    assert "requested too many times. Try again later." in result.stderr
    assert "{'error'" not in result.stderr
    assert marker_notes(api) == []
