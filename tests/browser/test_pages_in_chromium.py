"""The sandbox's pages in a real headless Chromium: what a person opening the links sees."""

from __future__ import annotations

import re

import mlflow


def logged_run(name: str, losses: list[float]) -> mlflow.entities.Run:
    """A run made with the stock MLflow client: a loss history and a param."""
    mlflow.set_experiment("browse")
    with mlflow.start_run(run_name=name) as active:
        mlflow.log_param("learning_rate", "0.1")
        for step, loss in enumerate(losses):
            mlflow.log_metric("loss", loss, step=step)
    return mlflow.get_run(active.info.run_id)


def test_mlflows_view_run_link_lands_on_the_run_with_its_chart(mlflow_env, capsys, browser,
                                                               tmp_path):
    run = logged_run("lr-0.1", [0.9, 0.5, 0.3, 0.2])
    link = re.search(r"View run lr-0\.1 at: (\S+)", capsys.readouterr().out)[1]
    # The fragment is read by the page's script, which goes on to the run's page.
    shown = browser.open(link, until=lambda url: "/-/ml/candidates/" in url)
    assert ">lr-0.1" in shown
    assert "learning_rate" in shown
    chart = re.search(r'<svg class="chart".*?</svg>', shown, re.S)[0]
    assert chart.count("<circle") == 4, "one point per logged step"
    assert run.info.run_id in shown
    browser.screenshot(tmp_path / "run.png")


def test_the_experiments_page_links_each_run(sandbox, mlflow_env, browser, tmp_path):
    logged_run("first", [1.0, 0.5])
    logged_run("second", [0.8, 0.4])
    browser.open(f"{sandbox.url}/{sandbox.project_path}/-/ml/experiments")
    browser.screenshot(tmp_path / "experiments.png")
    runs = browser.click("browse")
    assert re.search(r"/-/ml/experiments/\d+$", browser.url)
    names = re.findall(r'/-/ml/candidates/\d+">(first|second)</a>', runs)
    assert sorted(names) == ["first", "second"]
    browser.screenshot(tmp_path / "experiment.png")
    shown = browser.click("second")
    assert "/-/ml/candidates/" in browser.url and "<h1>second" in shown
