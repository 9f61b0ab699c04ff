"""metrics.txt for GitLab's metrics report: one `name value` line per finite metric."""

from __future__ import annotations

import math

from mlflow_gitlab.report.metrics import metric_name, metrics_text, write_metrics


def test_one_sorted_line_per_finite_metric_in_round_trip_form():
    text = metrics_text({"loss": 0.1, "accuracy": 0.93, "bad": math.nan, "big": math.inf,
                         "epochs": 10.0})
    assert text == "accuracy 0.93\nepochs 10.0\nloss 0.1\n"


def test_keys_become_openmetrics_names():
    assert [metric_name(k) for k in ("val/loss", "f1 score", "1st", "a:b")] == \
        ["val_loss", "f1_score", "_1st", "a:b"]
    assert metrics_text({"val/loss": 1.0, "val_loss": 2.0}) == "val_loss 1.0\n"


def test_nothing_to_report_writes_an_empty_file(tmp_path):
    path = tmp_path / "out" / "metrics.txt"
    write_metrics(path, {})
    assert path.read_text() == ""
