"""A fixture experiment for the report's snapshot: five tuning runs and a model version."""

from __future__ import annotations

from mlflow_gitlab.report.model import Baseline, Place, ReportData, Row

PROJECT = "https://gitlab.example.com/ml-team/demo-project"


def row(n: int, lr: str, loss: float | None, accuracy: float, package: bool = True) -> Row:
    metrics = {"accuracy": accuracy} if loss is None else {"loss": loss, "accuracy": accuracy}
    return Row(
        run_id=f"{n:032x}", name=f"train [LR={lr}, OPTIMIZER=adam]", start_time=1_700_000_000 + n,
        params={"lr": lr, "optimizer": "adam", "epochs": "10"}, metrics=metrics,
        run_url=f"{PROJECT}/-/ml/candidates/{n}", job_url=f"{PROJECT}/-/jobs/{5000 + n}",
        job_name=f"train: [{lr}, adam]", pipeline_url=f"{PROJECT}/-/pipelines/1002",
        pipeline_iid="2", package_url=f"{PROJECT}/-/packages/{40 + n}" if package else None)


CANDIDATES = [
    row(1, "0.001", 0.31, 0.88),
    row(2, "0.01", 0.21, 0.93),
    row(3, "0.1", 0.25, 0.91, package=False),
    row(4, "0.3", float("nan"), 0.5),
    row(5, "1.0", None, 0.1),
    row(6, "0.03", 0.24, 0.92),
]

DATA = ReportData(
    subject="demo-model", scope="pipeline",
    experiment=Place("demo-project", f"{PROJECT}/-/ml/experiments/1"),
    baseline=Baseline("latest-version", "demo-model 1.2.0", 0.25,
                      f"{PROJECT}/-/ml/models/1/versions/9"),
    pipeline=Place("pipeline #2", f"{PROJECT}/-/pipelines/1002"),
    merge_request=Place("!1 Tune the learning rate", f"{PROJECT}/-/merge_requests/1"))
