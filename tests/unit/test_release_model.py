"""Which files of a run are the model: the rules for finding `MLmodel` (release_model)."""

from __future__ import annotations

import json

import pytest

from mlflow_gitlab.errors import ReleaseError
from mlflow_gitlab.release.model_files import (
    holds_model,
    model_files,
    model_folder,
    newest_logged_model,
)


def test_the_folder_holding_the_one_mlmodel():
    assert model_folder(("outputs/model/MLmodel", "outputs/model/m.pkl",
                         "outputs/report.html"), None) == "outputs/model"
    assert model_folder(("MLmodel", "model.pkl"), None) == ""


def test_no_mlmodel_means_every_file_is_the_model():
    assert model_folder(("weights.pt", "notes/MLmodel.txt"), None) is None


def test_several_mlmodels_need_model_path():
    paths = ("a/MLmodel", "b/MLmodel", "MLmodel")
    with pytest.raises(ReleaseError, match=r"3 MLmodel files \(\., a, b\)") as info:
        model_folder(paths, None)
    assert "--model-path" in info.value.hint
    assert model_folder(paths, "b/") == "b"
    assert model_folder(paths, "./a") == "a"
    assert model_folder(paths, ".") == ""


def test_the_newest_logged_model_settles_several():
    paths = ("model/MLmodel", "model-1a2b3c4d/MLmodel")
    assert model_folder(paths, None, preferred="model-1a2b3c4d") == "model-1a2b3c4d"
    assert model_folder(paths, "model", preferred="model-1a2b3c4d") == "model"
    with pytest.raises(ReleaseError, match="2 MLmodel files"):
        model_folder(paths, None, preferred="gone")


def test_model_path_without_mlmodel_is_refused():
    with pytest.raises(ReleaseError, match="--model-path 'c' holds no MLmodel"):
        model_folder(("a/MLmodel",), "c")


def test_holds_model_at_the_named_folder_or_anywhere():
    paths = ("report.html", "model/MLmodel")
    assert holds_model(paths, None) and holds_model(paths, "./model/")
    assert not holds_model(paths, ".") and not holds_model(("report.html",), None)


def test_model_files_are_the_folder_and_keep_distinct_names():
    paths = ("model/MLmodel", "model/w.bin", "plot.png")
    assert model_files(paths, "model") == ("model/MLmodel", "model/w.bin")
    assert model_files(paths, None) == paths
    with pytest.raises(ReleaseError, match="would both be stored as 'a_b'"):
        model_files(("m/MLmodel", "m/a b", "m/a_b"), "m")
    with pytest.raises(ReleaseError, match=r"manifest\.json"):
        model_files(("m/MLmodel", "m/manifest.json"), "m")


def test_the_newest_ready_logged_model_from_run_tags():
    def head(path: str, created: int) -> str:
        return json.dumps({"name": "model", "path": path, "created": created})

    tags = {"mlflow-gitlab.model.m-1": head("model", 1),
            "mlflow-gitlab.model.m-1.status": "READY",
            "mlflow-gitlab.model.m-2": head("model-2", 2),
            "mlflow-gitlab.model.m-2.status": "READY",
            "mlflow-gitlab.model.m-3": head("model-3", 3)}  # still PENDING
    assert newest_logged_model(tags) == "model-2"
    assert newest_logged_model({}) is None
