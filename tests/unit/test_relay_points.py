"""Metric points as the relay takes them: what GitLab would refuse is refused at once."""

from __future__ import annotations

import pytest

from mlflow_gitlab.relay.points import (
    InvalidPoint,
    Point,
    already_stored,
    chunks,
    missing_from,
    parse_point,
    parse_points,
)


def test_a_log_metric_body_becomes_what_gitlab_stores():
    point = parse_point({"run_id": "r", "key": "loss", "value": 0.5, "timestamp": 17,
                         "step": 3, "model_id": "m-1", "dataset_name": "train"})
    assert point.to_json() == {"key": "loss", "value": 0.5, "timestamp": 17, "step": 3}
    assert point.model_id == "m-1"
    assert parse_point({"key": "k", "value": "1e3", "timestamp": 1}).to_json() == {
        "key": "k", "value": "1e3", "timestamp": 1}


@pytest.mark.parametrize(("item", "message"), [
    ({"value": 1, "timestamp": 1}, "'key'"),
    ({"key": "k" * 251, "value": 1, "timestamp": 1}, "250 characters"),
    ({"key": "k", "timestamp": 1}, "value"),
    ({"key": "k", "value": "high", "timestamp": 1}, "not a number"),
    ({"key": "k", "value": True, "timestamp": 1}, "value"),
    ({"key": "k", "value": 1}, "'timestamp'"),
    ({"key": "k", "value": 1, "timestamp": 1, "step": "two"}, "step"),
    ({"key": "k", "value": 1, "timestamp": 1.5}, "timestamp"),
])
def test_points_gitlab_would_reject_are_refused(item, message):
    with pytest.raises(InvalidPoint, match=message):
        parse_point(item)


def test_one_bad_metric_refuses_the_whole_batch():
    with pytest.raises(InvalidPoint):
        parse_points([{"key": "a", "value": 1, "timestamp": 1}, {"key": "b"}])


@pytest.mark.parametrize("value", ["NaN", "Infinity", float("-inf")])
def test_values_gitlab_cannot_store_are_refused_only_for_gitlab(value):
    item = {"key": "k", "value": value, "timestamp": 1}
    assert parse_point(item).value == value  # MLflow's own server stores them
    with pytest.raises(InvalidPoint, match="not a finite number, which GitLab requires"):
        parse_point(item, finite=True)


def test_points_already_stored_are_recognised_counting_repeats():
    stored = [Point("loss", 1, 10, 0), Point("loss", 2.0, 11, 1)]
    sent = [Point("loss", 1.0, 10, 0), Point("loss", 1.0, 10, 0), Point("loss", 3, 12, 2)]
    assert already_stored(sent, stored) == [True, False, False]
    assert missing_from(sent, stored) == sent[1:]
    assert already_stored([Point("k", "NaN", 1, None)], [Point("k", "nan", 1, 0)]) == [True]


def test_chunks_keep_order_within_the_batch_limit():
    batch = [Point("k", i, i, i) for i in range(2001)]
    assert [len(c) for c in chunks(batch)] == [1000, 1000, 1]
    assert [p for c in chunks(batch) for p in c] == batch
