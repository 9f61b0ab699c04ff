"""Which folder of a run's outputs is the model: the rule for finding `MLmodel`."""

from __future__ import annotations

import pytest

from mlflow_gitlab.errors import ReleaseError
from mlflow_gitlab.packages import FileEntry, Manifest, Part
from mlflow_gitlab.release_files import model_folder

SHA = "0" * 64


def outputs(*paths: str) -> Manifest:
    return Manifest("ml_experiment_1", "run", tuple(
        FileEntry(p, 1, SHA, (Part(p, 1, SHA),)) for p in paths))


def test_the_folder_holding_the_one_mlmodel():
    assert model_folder(outputs("outputs/model/MLmodel", "outputs/model/m.pkl",
                                "outputs/report.html"), None) == "outputs/model"
    assert model_folder(outputs("MLmodel", "model.pkl"), None) == ""


def test_no_mlmodel_means_every_file_is_the_model():
    assert model_folder(outputs("weights.pt", "notes/MLmodel.txt"), None) is None


def test_several_mlmodels_need_model_path():
    manifest = outputs("a/MLmodel", "b/MLmodel", "MLmodel")
    with pytest.raises(ReleaseError, match=r"3 MLmodel files \(\., a, b\)") as info:
        model_folder(manifest, None)
    assert "--model-path" in info.value.hint
    assert model_folder(manifest, "b/") == "b"
    assert model_folder(manifest, "./a") == "a"
    assert model_folder(manifest, ".") == ""


def test_model_path_without_mlmodel_is_refused():
    with pytest.raises(ReleaseError, match="--model-path 'c' holds no MLmodel"):
        model_folder(outputs("a/MLmodel"), "c")
