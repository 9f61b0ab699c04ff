"""`Settings.register_unknown_jobs`: the e2e-only deviation for runners that pick job ids."""

from __future__ import annotations

import pytest

from mlflow_gitlab.sandbox import Settings

CI_TAGS = [{"key": "gitlab.CI_JOB_ID", "value": "424242"},
           {"key": "gitlab.CI_JOB_NAME", "value": "mlflow-tune: [0.1]"},
           {"key": "gitlab.CI_JOB_STAGE", "value": "test"},
           {"key": "gitlab.CI_PIPELINE_ID", "value": "1012"},
           {"key": "gitlab.CI_PIPELINE_SOURCE", "value": "merge_request_event"},
           {"key": "gitlab.CI_COMMIT_REF_NAME", "value": "tune-wine"}]


def create_run(api, tags, experiment="e2e"):
    found = api.mlflow("GET", "experiments/get-by-name", params={"experiment_name": experiment})
    experiment_id = (found.json()["experiment"]["experiment_id"] if found.ok else
                     api.mlflow("POST", "experiments/create",
                                json={"name": experiment}).json()["experiment_id"])
    return api.mlflow("POST", "runs/create", json={"experiment_id": experiment_id,
                                                    "tags": tags})


def test_by_default_an_unknown_job_id_fails_as_on_gitlab(api):
    assert create_run(api, CI_TAGS).status_code == 500


@pytest.mark.parametrize("sandbox_settings", [Settings(register_unknown_jobs=True)])
def test_when_enabled_the_run_registers_its_job_and_pipeline(api, sandbox, gl):
    r = create_run(api, CI_TAGS)
    assert r.status_code == 200, r.text
    job = gl.projects.get(sandbox.project_id).jobs.get(424242)
    assert (job.name, job.stage, job.ref, job.pipeline["id"]) == (
        "mlflow-tune: [0.1]", "test", "tune-wine", 1012)
    pipeline = gl.projects.get(sandbox.project_id).pipelines.get(1012)
    assert (pipeline.source, pipeline.status) == ("merge_request_event", "running")
    second = create_run(api, [{**CI_TAGS[0], "value": "424243"}, *CI_TAGS[1:]])
    assert second.status_code == 200  # joins the pipeline the first run registered
    assert gl.projects.get(sandbox.project_id).jobs.get(424243).pipeline["id"] == 1012
