"""The sandbox's ML pages over HTTP: runs table, run, models, file downloads, MLflow's links."""

from __future__ import annotations

import hashlib
import os
import re
import sys
import time
from urllib.parse import urlsplit

import mlflow
import pytest
import requests

from tests import ci_envs
from tests.cli import home, mlflow_gitlab


def page(sandbox, path: str, **params) -> requests.Response:
    """A page of the seeded project as a browser asks for it: no token."""
    return requests.get(f"{sandbox.url}/{sandbox.project_path}{path}", params=params,
                        timeout=10, allow_redirects=False)


def experiment(api, name: str = "tune") -> str:
    return api.mlflow("POST", "experiments/create", json={"name": name}).json()["experiment_id"]


def run(api, experiment_id: str, name: str, *, params: dict[str, str] | None = None,
        metrics: dict[str, list[float]] | None = None, tags: dict[str, str] | None = None
        ) -> dict:
    """A run made through the MLflow API: its params, each metric's history by step."""
    body = {"experiment_id": experiment_id, "run_name": name,
            "tags": [{"key": k, "value": v} for k, v in (tags or {}).items()]}
    info = api.mlflow("POST", "runs/create", json=body).json()["run"]["info"]
    now = int(time.time() * 1000)
    batch = {"run_id": info["run_id"],
             "params": [{"key": k, "value": v} for k, v in (params or {}).items()],
             "metrics": [{"key": k, "value": v, "timestamp": now, "step": step}
                         for k, values in (metrics or {}).items()
                         for step, v in enumerate(values)]}
    assert api.mlflow("POST", "runs/log-batch", json=batch).status_code == 200
    info["iid"] = candidate_iid(info["artifact_uri"])
    return info


def candidate_iid(artifact_uri: str) -> int:
    """The run's candidate iid, as its artifact URI names it."""
    return int(re.search(r"candidate:(\d+)", artifact_uri)[1])


def table_order(html: str) -> list[int]:
    """The candidate iids of the runs table, top to bottom."""
    return [int(iid) for iid in re.findall(r'<tr class="candidate[^"]*" data-iid="(\d+)"', html)]


def test_the_runs_table_shows_params_latest_metrics_and_ci_links(sandbox, api):
    exp = experiment(api, "lr <search>")
    winner = run(api, exp, "train: [0.1]", params={"lr": "0.1"},
                 metrics={"accuracy": [0.5, 0.7, 0.93]}, tags={"gitlab.CI_JOB_ID": "5002"})
    run(api, exp, "train: [0.01]", params={"lr": "0.01", "optimizer": "adam"},
        metrics={"accuracy": [0.81]})
    response = page(sandbox, f"/-/ml/experiments/{exp}")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    text = response.text
    assert "<h1>lr &lt;search&gt;</h1>" in text
    row = text.split(f'data-iid="{winner["iid"]}"')[1].split("</tr>")[0]
    assert f'href="/{sandbox.project_path}/-/ml/candidates/{winner["iid"]}">train: [0.1]</a>' \
        in row
    assert '<td class="num" data-metric="accuracy">0.93</td>' in row  # the latest value
    assert "<td>0.1</td>" in row
    project = sandbox.project_path
    assert f'<a href="/{project}/-/jobs/5002">train: [0.1]</a>' in row
    assert f'<a href="/{project}/-/pipelines/1001">#1001</a>' in row
    assert f'<a href="/{project}/-/merge_requests/1">!1</a>' in row
    assert "@dev" in row
    for header in ("params.lr", "params.optimizer", "metrics.accuracy"):
        assert f'data-sort="{header}"' in text


def test_sorting_by_a_column_is_done_by_the_server(sandbox, api):
    exp = experiment(api)
    low = run(api, exp, "b-low", params={"depth": "10"}, metrics={"accuracy": [0.6]})
    high = run(api, exp, "c-high", params={"depth": "9"}, metrics={"accuracy": [0.9]})
    none = run(api, exp, "a-none", params={"depth": "x"})
    path = f"/-/ml/experiments/{exp}"
    assert table_order(page(sandbox, path).text) == [none["iid"], high["iid"], low["iid"]]
    by_metric = page(sandbox, path, sort="metrics.accuracy", direction="desc").text
    assert table_order(by_metric) == [high["iid"], low["iid"], none["iid"]]  # missing last
    assert table_order(page(sandbox, path, sort="metrics.accuracy", direction="asc").text) \
        == [low["iid"], high["iid"], none["iid"]]
    # numbers by value (9 before 10), then text
    assert table_order(page(sandbox, path, sort="params.depth", direction="asc").text) \
        == [high["iid"], low["iid"], none["iid"]]
    assert table_order(page(sandbox, path, sort="name", direction="asc").text) \
        == [none["iid"], low["iid"], high["iid"]]
    # the sorted column's header link flips the direction; the others sort descending first
    assert 'href="?sort=metrics.accuracy&amp;direction=asc&amp;metric=accuracy#runs"' in by_metric
    assert 'href="?sort=name&amp;direction=desc&amp;metric=accuracy#runs"' in by_metric
    assert 'aria-sort="descending"' in by_metric
    # an unknown column is the default order
    assert table_order(page(sandbox, path, sort="nope").text) == \
        [none["iid"], high["iid"], low["iid"]]


def test_a_pipelines_runs_are_grouped_under_their_parent(sandbox, api):
    exp = experiment(api)
    parent = run(api, exp, "pipeline #1", tags={"mlflow-gitlab.role": "pipeline"})
    child_tags = {"mlflow.parentRunId": parent["run_id"]}
    weak = run(api, exp, "train: [0.01]", metrics={"accuracy": [0.7]}, tags=child_tags)
    alone = run(api, exp, "notebook", metrics={"accuracy": [0.8]})
    strong = run(api, exp, "train: [0.1]", metrics={"accuracy": [0.9]}, tags=child_tags)
    text = page(sandbox, f"/-/ml/experiments/{exp}", sort="metrics.accuracy").text
    # the group sorts by its best child, the children under their parent
    assert table_order(text) == [parent["iid"], strong["iid"], weak["iid"], alone["iid"]]
    assert re.findall(r'<tr class="candidate child" data-iid="(\d+)"', text) == \
        [str(strong["iid"]), str(weak["iid"])]
    assert "(2 runs)" in text
    parent_page = page(sandbox, f"/-/ml/candidates/{parent['iid']}").text
    children = parent_page.split('id="children"')[1].split("</table>")[0]
    assert re.findall(r"/-/ml/candidates/(\d+)", children) == \
        [str(weak["iid"]), str(strong["iid"])]
    child_page = page(sandbox, f"/-/ml/candidates/{weak['iid']}").text
    assert f'<dd><a href="/{sandbox.project_path}/-/ml/candidates/{parent["iid"]}">pipeline #1' \
        in child_page


def test_the_performance_section_draws_one_metric_across_the_runs(sandbox, api):
    exp = experiment(api)
    run(api, exp, "one", metrics={"accuracy": [0.6], "loss": [0.4]})
    run(api, exp, "two", metrics={"accuracy": [0.9]})
    run(api, exp, "three", metrics={"loss": [0.2]})
    text = page(sandbox, f"/-/ml/experiments/{exp}").text
    performance = text.split('id="performance"')[1]
    assert "<strong aria-current=\"true\">accuracy</strong>" in performance  # the first metric
    assert performance.count('<rect class="bar"') == 2
    assert 'href="?sort=created_at&amp;direction=desc&amp;metric=loss#performance"' in performance
    chosen = page(sandbox, f"/-/ml/experiments/{exp}", metric="loss").text
    performance = chosen.split('id="performance"')[1]
    assert "<title>one: 0.4</title>" in performance and "<title>three: 0.2</title>" in performance
    assert performance.count('<rect class="bar"') == 2


def test_the_run_page_has_a_chart_per_metric_its_tags_and_ci(sandbox, api):
    exp = experiment(api)
    info = run(api, exp, "train", params={"lr": "0.1"},
               metrics={"accuracy": [0.5, 0.7, 0.93], "loss": [0.9, 0.3]},
               tags={"gitlab.CI_JOB_ID": "5001", "note": "<b>bold</b>"})
    response = page(sandbox, f"/-/ml/candidates/{info['iid']}")
    assert response.status_code == 200
    text = response.text
    charts = re.findall(r'<figure class="metric-chart" data-metric="(\w+)"><svg(.*?)</svg>',
                        text, re.S)
    assert [name for name, _ in charts] == ["accuracy", "loss"]
    for (_, svg), count in zip(charts, (3, 2), strict=True):
        polylines = re.findall(r'<polyline[^>]* points="([^"]*)"', svg)
        assert len(polylines) == 1
        assert len(polylines[0].split()) == count
    assert "<td class=\"num\">0.93</td>" in text  # the latest value
    assert f"<code>{info['run_id']}</code>" in text
    assert "&lt;b&gt;bold&lt;/b&gt;" in text and "<b>bold</b>" not in text
    assert "<code>gitlab.CI_JOB_ID</code>" in text
    ci = text.split('id="ci"')[1].split("<h2")[0]
    project = sandbox.project_path
    assert f'<a href="/{project}/-/jobs/5001">train: [0.01]</a>' in ci
    assert f'<a href="/{project}/-/pipelines/1001">#1001</a>' in ci
    assert f'<a href="/{project}/-/merge_requests/1">!1 Tune the learning rate</a>' in ci
    assert "Dana Developer" in ci


def test_a_runs_files_download_in_a_browser_without_a_token(sandbox, mlflow_env, tmp_path):
    local = tmp_path / "metrics.txt"
    local.write_bytes(b"loss=0.1\n")
    mlflow.set_experiment("files")
    with mlflow.start_run() as active:
        mlflow.log_artifact(str(local), artifact_path="reports")
    iid = candidate_iid(active.info.artifact_uri)
    text = page(sandbox, f"/-/ml/candidates/{iid}").text
    files = text.split('id="artifacts"')[1]
    assert "<code>reports/metrics.txt</code>" in files
    link = re.search(r'<a class="download" href="([^"]+)"', files)[1]
    assert re.fullmatch(rf"/{sandbox.project_path}/-/package_files/\d+/download", link)
    download = requests.get(sandbox.url + link, timeout=10)
    assert download.status_code == 200
    assert download.content == b"loss=0.1\n"
    assert "attachment" in download.headers["Content-Disposition"]


def test_the_model_pages_list_versions_newest_semver_first_with_files(sandbox, api):
    assert api.mlflow("POST", "registered-models/create",
                      json={"name": "churn", "description": "Predicts *churn*"}).ok
    ids = {}
    for version in ("1.2.0", "1.10.0", "1.0.0"):
        body = {"name": "churn", "tags": [{"key": "gitlab.version", "value": version}]}
        ids[version] = api.mlflow("POST", "model-versions/create",
                                  json=body).json()["model_version"]["version"]
    blob = b"\x00model bytes"
    assert api.request("PUT", f"/projects/{sandbox.project_id}/packages/ml_models/"
                       f"{ids['1.10.0']}/files/model.pkl", data=blob).status_code == 201
    model_id = re.search(r'href="/[^"]+/-/ml/models/(\d+)">churn</a>',
                         page(sandbox, "/-/ml/models").text)[1]
    listing = page(sandbox, "/-/ml/models").text
    row = listing.split(">churn</a>")[1].split("</tr>")[0]
    assert f'/-/ml/models/{model_id}/versions/{ids["1.10.0"]}">1.10.0</a>' in row
    assert '<td class="num">3</td>' in row

    model = page(sandbox, f"/-/ml/models/{model_id}").text
    assert "<em>churn</em>" in model  # the description as Markdown
    order = re.findall(r'/versions/\d+">([\d.]+)</a>', model)
    assert order == ["1.10.0", "1.2.0", "1.0.0"]

    version = page(sandbox, f"/-/ml/models/{model_id}/versions/{ids['1.10.0']}")
    assert version.status_code == 200
    files = version.text.split('id="artifacts"')[1].split("<h2")[0]
    assert "<code>model.pkl</code>" in files and "12 B" in files
    assert f'title="{hashlib.sha256(blob).hexdigest()}"' in files
    assert re.search(r'<a class="run" href="/[^"]+/-/ml/candidates/\d+">', version.text)
    link = re.search(r'<a class="download" href="([^"]+)"', files)[1]
    assert requests.get(sandbox.url + link, timeout=10).content == blob


@pytest.mark.parametrize("path", [
    "/-/ml/experiments/999", "/-/ml/experiments/abc", "/-/ml/candidates/999",
    "/-/ml/models/999", "/-/ml/models/999/versions/1", "/-/package_files/999/download"])
def test_an_unknown_record_is_the_404_page(sandbox, path):
    response = page(sandbox, path)
    assert response.status_code == 404
    assert response.headers["Content-Type"].startswith("text/html")
    assert "404: Page not found" in response.text


def test_another_models_version_is_not_found(sandbox, api):
    for name in ("a", "b"):
        api.mlflow("POST", "registered-models/create", json={"name": name})
    version = api.mlflow("POST", "model-versions/create", json={"name": "a"}).json()
    listing = page(sandbox, "/-/ml/models").text
    b_id = re.search(r'/-/ml/models/(\d+)">b</a>', listing)[1]
    other = page(sandbox, f"/-/ml/models/{b_id}/versions/{version['model_version']['version']}")
    assert other.status_code == 404


def test_mlflows_view_run_link_opens_the_runs_page(sandbox, mlflow_env, capsys):
    mlflow.set_experiment("printed")
    with mlflow.start_run(run_name="printed-run") as active:
        pass
    printed = re.search(r"View run printed-run at: (\S+)", capsys.readouterr().out)[1]
    address, _, fragment = printed.partition("#")
    assert fragment == f"/experiments/{active.info.experiment_id}/runs/{active.info.run_id}"
    ui = requests.get(address, timeout=10)  # what the browser asks for: no fragment
    assert ui.status_code == 200
    assert "location.replace" in ui.text and "<script src" not in ui.text
    assert ">printed</a>" in ui.text
    # what the page's script asks for next
    redirect = requests.get(address, params={"run": active.info.run_id}, timeout=10,
                            allow_redirects=False)
    assert redirect.status_code == 302
    iid = candidate_iid(active.info.artifact_uri)
    assert redirect.headers["Location"] == \
        f"{sandbox.url}/{sandbox.project_path}/-/ml/candidates/{iid}"
    assert requests.get(redirect.headers["Location"], timeout=10).status_code == 200
    experiment_page = requests.get(address, params={"experiment": active.info.experiment_id},
                                   timeout=10, allow_redirects=False)
    assert urlsplit(experiment_page.headers["Location"]).path == \
        f"/{sandbox.project_path}/-/ml/experiments/{active.info.experiment_id}"
    unknown = requests.get(address, params={"run": "0" * 32}, timeout=10)
    assert unknown.status_code == 404 and "404: Page not found" in unknown.text


def test_the_runs_download_as_csv_in_the_tables_order(sandbox, api):
    exp = experiment(api)
    low = run(api, exp, "low", params={"formula": "=1+1"}, metrics={"accuracy": [0.6]})
    high = run(api, exp, "high", params={"formula": "x"}, metrics={"accuracy": [0.9]})
    text = page(sandbox, f"/-/ml/experiments/{exp}", sort="metrics.accuracy").text
    link = re.search(r'<a class="csv" href="([^"]+)"', text)[1].replace("&amp;", "&")
    response = requests.get(f"{sandbox.url}/{sandbox.project_path}/-/ml/experiments/{link}",
                            timeout=10)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    lines = response.text.splitlines()
    assert lines[0] == ("project_id,experiment_iid,candidate_iid,name,external_id,start_time,"
                        "end_time,formula,accuracy")
    assert lines[1].startswith(f"7,{exp},{high['iid']},high,{high['run_id']},")
    assert lines[1].endswith(",x,0.9")
    assert lines[2].endswith(",'=1+1,0.6")  # no formula for a spreadsheet to run
    assert low["iid"] == int(lines[2].split(",")[2])


def test_the_run_page_the_tool_prints_opens_with_its_pipeline_and_parent(sandbox, tmp_path):
    script = tmp_path / "train.py"
    script.write_text("import mlflow\nwith mlflow.start_run():\n"
                      "    mlflow.log_metric('loss', 0.5, step=0)\n"
                      "    mlflow.log_metric('loss', 0.25, step=1)\n")
    env = ci_envs.merge_request()
    env.update({"PATH": os.environ["PATH"], "HOME": home(), "CI_SERVER_URL": sandbox.url,
                "CI_API_V4_URL": sandbox.api_url,
                "CI_PROJECT_URL": f"{sandbox.url}/{sandbox.project_path}",
                "CI_JOB_TOKEN": sandbox.tokens["job"], "CI_PROJECT_NAME": "demo-project",
                "MLFLOW_TRACKING_TOKEN": sandbox.tokens["developer"],
                "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0"})
    result = mlflow_gitlab("run", "--", sys.executable, str(script), env=env)
    assert result.returncode == 0, result.stderr
    printed = re.search(rf"{re.escape(sandbox.url)}/\S+/-/ml/candidates/\d+",
                        result.stdout + result.stderr)[0]
    text = requests.get(printed, timeout=10).text
    assert re.search(r"<dt>Parent run</dt><dd><a href=[^>]+>pipeline #1</a>", text)
    assert f'<a href="/{sandbox.project_path}/-/jobs/5001">' in text
    assert len(re.findall(r'<polyline[^>]* points="([^"]*)"', text)[0].split()) == 2


def test_a_runs_outputs_package_is_listed_with_its_files(sandbox, api):
    exp = experiment(api)
    info = run(api, exp, "train")
    name, version = f"ml_experiment_{exp}", info["run_id"]
    assert api.request("PUT", f"/projects/{sandbox.project_id}/packages/generic/{name}/"
                       f"{version}/manifest.json", data=b"{}").status_code == 201
    for key, value in (("mlflow-gitlab.package.name", name),
                       ("mlflow-gitlab.package.version", version)):
        api.mlflow("POST", "runs/set-tag", json={"run_id": info["run_id"], "key": key,
                                                 "value": value})
    text = page(sandbox, f"/-/ml/candidates/{info['iid']}").text
    outputs = text.split("<h3>Outputs:")[1].split("<h2")[0]
    assert f">{name} {version}</a>" in outputs
    link = re.search(r'<a class="download" href="([^"]+)"', outputs)[1]
    assert requests.get(sandbox.url + link, timeout=10).content == b"{}"
