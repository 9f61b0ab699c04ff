"""Where run files live on GitLab, and the folders the relay rebuilds from flat names."""

from __future__ import annotations

import pytest

from mlflow_gitlab.http.paths import url_path
from mlflow_gitlab.relay.storage import (
    Storage,
    listing,
    relay_uri,
    split_relay_path,
    split_stored_path,
    storage_of,
)


@pytest.mark.parametrize(("uri", "storage"), [
    ("mlflow-artifacts:/candidate:7", Storage(ref="candidate:7")),
    ("mlflow-artifacts:/1234", Storage(ref="1234")),
    ("http://gl/api/v4/projects/42/packages/ml_models/candidate:7/files/",
     Storage(ref="candidate:7")),
    ("http://gl/api/v4/projects/42/packages/ml_models/candidate%3A7/files/",
     Storage(ref="candidate:7")),
    ("https://gl/root/api/v4/projects/42/packages/ml_models/55/files/", Storage(ref="55")),
    ("http://gl/api/v4/projects/42/packages/generic/ml_experiment_3/7/",
     Storage(generic_url="http://gl/api/v4/projects/42/packages/generic/ml_experiment_3/7")),
    ("/tmp/mlruns/1/abc/artifacts", None),
])
def test_each_gitlab_artifact_uri_rule_names_the_run_storage(uri, storage):
    assert storage_of(uri) == storage


def test_relay_paths_name_a_run_and_a_file_inside_it():
    assert relay_uri("abc") == "mlflow-artifacts:/runs/abc"
    assert relay_uri("abc", "model/") == "mlflow-artifacts:/runs/abc/model"
    assert split_relay_path("/runs/abc/model/MLmodel") == ("abc", "model/MLmodel")
    assert split_relay_path("runs/abc") == ("abc", "")
    assert split_relay_path("/1/abc/artifacts") is None
    with pytest.raises(ValueError, match="leaves the run"):
        split_relay_path("/runs/abc/model/%2E%2E/../secrets")


def test_stored_paths_name_a_model_version_or_candidate_package():
    assert split_stored_path("/12/MLmodel") == ("12", "MLmodel")
    assert split_stored_path("12") == ("12", "")
    assert split_stored_path("candidate:3/model/MLmodel") == ("candidate:3", "model/MLmodel")
    for path in ("runs/abc/MLmodel", "candidate:/x", "12a/MLmodel", "", "../12/x"):
        assert split_stored_path(path) is None, path
    with pytest.raises(ValueError, match="leaves its package"):
        split_stored_path("12/../../secrets")


def test_url_paths_encode_each_segment():
    assert url_path("model/my file+1.txt") == "model/my%20file%2B1.txt"


FLAT = [{"path": "model%2FMLmodel", "file_size": 10, "is_dir": False},
        {"path": "model%2Fmodel.pkl", "file_size": 900, "is_dir": False},
        {"path": "model%2Fsub%2Fx.json", "file_size": 2, "is_dir": False},
        {"path": "plot.png", "file_size": 5, "is_dir": False},
        {"path": "model%2FMLmodel", "file_size": 11, "is_dir": False}]  # uploaded again


def test_flat_gitlab_names_are_listed_as_folders():
    assert listing(FLAT, "") == [{"path": "model", "is_dir": True},
                                 {"path": "plot.png", "is_dir": False, "file_size": 5}]
    assert listing(FLAT, "model/") == [
        {"path": "sub", "is_dir": True},
        {"path": "MLmodel", "is_dir": False, "file_size": 11},
        {"path": "model.pkl", "is_dir": False, "file_size": 900}]
    assert listing(FLAT, "model/sub") == [{"path": "x.json", "is_dir": False, "file_size": 2}]


def test_listing_a_file_or_a_missing_folder_lists_nothing():
    assert listing(FLAT, "plot.png") == []
    assert listing(FLAT, "nothing") == []
