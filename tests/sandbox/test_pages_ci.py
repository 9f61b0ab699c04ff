"""The sandbox's packages, merge request, pipeline, job and project pages over HTTP."""

from __future__ import annotations

import hashlib
import re

import requests

from tests.sandbox.test_pages_ml import experiment, page, run

CHART_NOTE = """<!-- mlflow-gitlab:report -->
### Tuning results <sub>pipeline #1001</sub>

| run | accuracy |
| --- | ---: |
| [train: [0.1]](http://example.test/run) | **0.93** |

```mermaid
xychart-beta
    title "accuracy by run"
    x-axis ["lr=0.1", "lr=0.01"]
    bar [0.93, 0.81]
```

<script>alert("x")</script>
"""


def test_the_merge_request_page_renders_the_report_note_as_gitlab_does(sandbox, api):
    notes = f"/projects/{sandbox.project_id}/merge_requests/1/notes"
    assert api.request("POST", notes, json={"body": CHART_NOTE}).status_code == 201
    response = page(sandbox, "/-/merge_requests/1")
    assert response.status_code == 200
    text = response.text
    assert "<h1>Tune the learning rate" in text
    assert "<sub>pipeline #1001</sub>" in text
    assert re.search(r'<a href="http://example.test/run"[^>]*>train: \[0.1\]</a>', text)
    assert "<strong>0.93</strong>" in text and "<table>" in text
    body = text.split('class="body"')[1]
    assert '<svg class="chart' in body  # the Mermaid chart drawn, not shown as code
    assert "xychart-beta" not in body
    assert "<script" not in text  # sanitized
    assert f'<a href="/{sandbox.project_path}/-/pipelines/1001">#1001</a>' in text
    assert "@dev" in text


def test_the_merge_request_list_opens_on_the_open_ones(sandbox):
    opened = page(sandbox, "/-/merge_requests").text
    assert f'href="/{sandbox.project_path}/-/merge_requests/1">!1 Tune the learning rate' in opened
    merged = page(sandbox, "/-/merge_requests", state="merged").text
    assert "/-/merge_requests/1" not in merged
    assert "No merged merge requests." in merged


def test_the_pipeline_and_job_pages_show_what_ran_and_the_runs_it_logged(sandbox, api):
    exp = experiment(api)
    logged = run(api, exp, "train: [0.1]", tags={"gitlab.CI_JOB_ID": "5002"})
    project = sandbox.project_path
    pipeline = page(sandbox, "/-/pipelines/1001").text
    assert f'<a href="/{project}/-/jobs/5001">train: [0.01]</a>' in pipeline
    assert f'<a href="/{project}/-/jobs/5002">train: [0.1]</a>' in pipeline
    assert f'<a href="/{project}/-/merge_requests/1">!1 Tune the learning rate</a>' in pipeline
    assert f'<a href="/{project}/-/ml/candidates/{logged["iid"]}">train: [0.1]</a>' in pipeline

    job = page(sandbox, "/-/jobs/5002").text
    assert f'<a href="/{project}/-/pipelines/1001">#1001</a>' in job
    assert f'/-/ml/candidates/{logged["iid"]}"' in job
    assert "/-/ml/candidates/" not in page(sandbox, "/-/jobs/5001").text

    listing = page(sandbox, "/-/pipelines").text
    assert f'<a href="/{project}/-/pipelines/1001">#1001</a>' in listing


def test_the_package_pages_list_files_with_checksums_and_download_them(sandbox, api):
    blob = b"weights " * 100
    path = f"/projects/{sandbox.project_id}/packages/generic/churn-artifacts/1.4.0/model.bin"
    assert api.request("PUT", path, data=blob).status_code == 201
    api.request("PUT", path.replace("churn-artifacts", "other"), data=b"x")
    listing = page(sandbox, "/-/packages").text
    package_id = re.search(r'/-/packages/(\d+)">churn-artifacts</a>', listing)[1]
    assert "other</a>" in listing
    found = page(sandbox, "/-/packages", **{"search[]": "churn"}).text  # as the report links
    assert "churn-artifacts</a>" in found and "other</a>" not in found

    detail = page(sandbox, f"/-/packages/{package_id}").text
    assert "<code>model.bin</code>" in detail
    assert hashlib.sha256(blob).hexdigest() in detail
    download = re.search(r'href="(/[^"]+/download)"', detail)[1]
    assert requests.get(sandbox.url + download, timeout=10).content == blob


def test_a_model_versions_package_links_back_to_the_version(sandbox, api):
    assert api.mlflow("POST", "registered-models/create", json={"name": "churn"}).ok
    version = api.mlflow("POST", "model-versions/create",
                         json={"name": "churn"}).json()["model_version"]["version"]
    assert api.request("PUT", f"/projects/{sandbox.project_id}/packages/ml_models/{version}"
                       "/files/model.pkl", data=b"m").status_code == 201
    listing = page(sandbox, "/-/packages", type="ml_model").text
    package_id = re.search(r'/-/packages/(\d+)">', listing)[1]
    detail = page(sandbox, f"/-/packages/{package_id}").text
    assert re.search(rf'/-/ml/models/\d+/versions/{version}">churn ', detail)


def test_the_project_page_links_every_section(sandbox):
    response = requests.get(f"{sandbox.url}/{sandbox.project_path}", timeout=10)
    assert response.status_code == 200
    for section in ("ml/experiments", "ml/models", "packages", "merge_requests", "pipelines"):
        assert f'href="/{sandbox.project_path}/-/{section}"' in response.text


def test_unknown_records_and_paths_are_the_404_page(sandbox):
    for path in ("/-/pipelines/999999", "/-/jobs/abc", "/-/merge_requests/99",
                 "/-/packages/99999", "/-/nothing/here"):
        response = page(sandbox, path)
        assert response.status_code == 404, path
        assert "404: Page not found" in response.text
    assert requests.get(f"{sandbox.url}/api/v4/nothing", timeout=10).json() == {
        "error": "404 Not Found"}
    # The page route takes any path, yet another method there is still an unknown route.
    assert requests.post(f"{sandbox.url}/{sandbox.project_path}", timeout=10).status_code == 404
