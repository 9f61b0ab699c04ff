"""Which files of a run are the model: the rules for finding `MLmodel`."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from mlflow_gitlab.errors import ReleaseError
from mlflow_gitlab.release_files import model_folder, pick_model


@dataclass(frozen=True)
class Files:
    """A source as `pick_model` sees it: a label and its paths."""

    label: str
    paths: tuple[str, ...]


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


def test_the_outputs_package_wins_when_it_holds_a_model():
    outputs = Files("ml_experiment_1/run", ("model/MLmodel", "model/m.pkl"))
    run_files = Files("candidate:3", ("model/MLmodel", "model/model.pkl"))
    assert pick_model([outputs, run_files], None) == (outputs, "model")


def test_run_files_hold_the_model_when_the_outputs_do_not():
    outputs = Files("ml_experiment_1/run", ("report.html",))
    run_files = Files("candidate:3", ("model/MLmodel", "model/model.pkl", "plot.png"))
    assert pick_model([outputs, run_files], None) == (run_files, "model")
    assert pick_model([outputs, run_files], "./model/") == (run_files, "model")


def test_without_any_mlmodel_the_first_source_goes_whole():
    outputs = Files("ml_experiment_1/run", ("weights.pt",))
    assert pick_model([outputs, Files("candidate:3", ("plot.png",))], None) == (outputs, None)


def test_model_path_found_nowhere_names_every_folder():
    sources = [Files("o/v", ("a/MLmodel",)), Files("candidate:3", ("b/MLmodel",))]
    with pytest.raises(ReleaseError, match="--model-path 'c'") as info:
        pick_model(sources, "c")
    assert info.value.hint == "folders with one: a, b"
