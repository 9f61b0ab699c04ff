"""The sandbox's web pages over HTTP: at GitLab's paths, escaped, 404 as an HTML page."""

from __future__ import annotations

import requests


def page(sandbox, path: str) -> requests.Response:
    """A page as a browser asks for it: no token."""
    return requests.get(f"{sandbox.url}/{sandbox.project_path}{path}", timeout=10)


def test_experiments_list_links_each_experiment_with_its_candidate_count(sandbox, api):
    experiment = api.mlflow("POST", "experiments/create", json={"name": "lr <search>"}).json()
    for _ in range(2):
        api.mlflow("POST", "runs/create", json={"experiment_id": experiment["experiment_id"]})
    response = page(sandbox, "/-/ml/experiments")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    iid = experiment["experiment_id"]
    assert f'href="/{sandbox.project_path}/-/ml/experiments/{iid}">lr &lt;search&gt;</a>' \
        in response.text
    assert '<td class="num">2</td>' in response.text


def test_a_project_by_its_path_only(sandbox):
    assert page(sandbox, "/-/ml/experiments").status_code == 200
    by_id = requests.get(f"{sandbox.url}/{sandbox.project_id}/-/ml/experiments", timeout=10)
    assert by_id.status_code == 404


def test_an_unknown_project_is_the_404_page(sandbox):
    response = requests.get(f"{sandbox.url}/nobody/nothing/-/ml/experiments", timeout=10)
    assert response.status_code == 404
    assert response.headers["Content-Type"].startswith("text/html")
    assert "404: Page not found" in response.text
