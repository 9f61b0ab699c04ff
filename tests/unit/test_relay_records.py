"""Logged models and dataset inputs kept as run tags: written once, read back whole."""

from __future__ import annotations

import json

import pytest

from mlflow_gitlab import logged_models as mr
from mlflow_gitlab.relay.inputs import dataset_inputs, input_tags, output_tags
from mlflow_gitlab.relay.model_entities import entity, matches, parse_filter

RUN_ID = "82328203-d0d7-4e25-aa5f-fceaf1040a4c"


def run_with(tags: dict[str, str], params: dict[str, str] | None = None) -> dict:
    return {"info": {"run_id": RUN_ID, "experiment_id": "3"},
            "data": {"tags": [{"key": k, "value": v} for k, v in tags.items()],
                     "params": [{"key": k, "value": v} for k, v in (params or {}).items()]}}


def test_a_model_id_names_its_run():
    model_id = mr.new_model_id(RUN_ID)
    assert model_id.startswith("m-82328203d0d74e25aa5ffceaf1040a4c")
    assert mr.run_of(model_id) == RUN_ID
    assert mr.run_of("m-06003d1ab7a54ab6ae4639f5dc2c42ef") is None  # not one of ours
    with pytest.raises(ValueError):
        mr.new_model_id("not-a-uuid")


def test_a_second_model_of_the_same_name_gets_its_own_folder():
    assert mr.folder_for("model", "m-x12345678", set()) == "model"
    assert mr.folder_for("model", "m-x12345678", {"model"}) == "model-12345678"


def test_a_model_is_read_back_from_the_tags_that_created_it():
    model_id = mr.new_model_id(RUN_ID)
    record = mr.ModelRecord(model_id, RUN_ID, "3", "model", "model", 1700, "sklearn",
                            tags={"mlflow.user": "dev"}, params={"alpha": "0.5"})
    tags = {**mr.creation_tags(record),
            **mr.detail_tags(model_id, "status", {"status": "READY"})}
    (found,) = mr.records(run_with(tags, {"lr": "0.1", "alpha": "0.1"}))
    assert found == mr.ModelRecord(model_id, RUN_ID, "3", "model", "model", 1700, "sklearn",
                                   "READY", {"mlflow.user": "dev"}, {"alpha": "0.5"})
    as_json = entity(found, {"lr": "0.1", "alpha": "0.1"})
    assert as_json["info"]["artifact_uri"] == f"mlflow-artifacts:/runs/{RUN_ID}/model"
    assert as_json["info"]["status"] == "LOGGED_MODEL_READY"
    assert as_json["data"]["params"] == [{"key": "alpha", "value": "0.5"},
                                        {"key": "lr", "value": "0.1"}]


def test_tags_that_do_not_fit_gitlab_are_refused():
    with pytest.raises(ValueError, match="does not fit"):
        mr.detail_tags("m-1", "tag", {"k" * 240: "v"})
    with pytest.raises(ValueError, match="does not fit"):
        mr.detail_tags("m-1", "param", {"k": "v" * 5001})


def test_search_filters_by_name_run_and_status():
    record = mr.ModelRecord("m-1", RUN_ID, "3", "model", "model", 1, status="READY")
    assert matches(record, parse_filter("name = 'model'"))
    assert matches(record, parse_filter(
        f"name='model' AND source_run_id = \"{RUN_ID}\" and status = 'LOGGED_MODEL_READY'"))
    assert not matches(record, parse_filter("name != 'model'"))
    with pytest.raises(ValueError, match="unsupported logged-model filter"):
        parse_filter("metrics.accuracy > 0.9")


def test_dataset_inputs_round_trip_through_run_tags():
    body = {"run_id": RUN_ID, "datasets": [{
        "tags": [{"key": "mlflow.data.context", "value": "training"}],
        "dataset": {"name": "train set", "digest": "6fa8888a", "source_type": "code",
                    "source": "{}", "schema": "{\"mlflow_colspec\": []}",
                    "profile": "{\"num_rows\": 20}"}}], "models": [{"model_id": "m-1"}]}
    tags = input_tags(body)
    assert set(tags) == {"mlflow-gitlab.dataset.train_set.6fa8888a.training",
                         "mlflow-gitlab.model_input.m-1"}
    (back,) = dataset_inputs([{"key": k, "value": v} for k, v in tags.items()])
    assert back == body["datasets"][0]
    assert output_tags({"models": [{"model_id": "m-1", "step": 4}]}) == {
        "mlflow-gitlab.model_output.m-1": "4"}


def test_a_dataset_too_large_for_a_tag_leaves_out_its_profile_and_says_so():
    body = {"datasets": [{"dataset": {"name": "d", "digest": "1", "source": "s",
                                      "schema": "x" * 100, "profile": "p" * 6000}}]}
    (value,) = input_tags(body).values()
    record = json.loads(value)
    assert record["omitted"] == ["profile"] and record["schema"] == "x" * 100
