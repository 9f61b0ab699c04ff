"""`release` takes a model from the run's own files (its `ml_model` candidate package), where
`log_model` puts it through the relay, when the outputs package has none."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import yaml

from mlflow_gitlab.errors import ReleaseError
from mlflow_gitlab.packages import package_tags, run_package, upload_paths
from tests.api.test_release import FRAME, Lab, Pipeline, signature

MLMODEL = yaml.safe_dump({"flavors": {"python_function": {"loader_module": "mlflow.sklearn"}},
                          "signature": signature().to_dict()})


class RunFilesLab(Lab):
    """Training runs whose files are put into the run's own package, as `log_model` does."""

    def logged(self, pipeline: Pipeline, files: dict[str, bytes], *, outputs: bool = False
               ) -> str:
        run_id = self.train(pipeline, 0.2, outputs=outputs)
        uri = self.api.mlflow("GET", "runs/get", params={"run_id": run_id}).json()[
            "run"]["info"]["artifact_uri"]
        for path, body in files.items():
            r = self.api.request("PUT", uri.rstrip("/") + "/" + path, data=body)
            assert r.status_code == 201, r.text
        return run_id

    def upload_tree(self, run_id: str, root: Path) -> None:
        """`root` as the run's complete outputs package, tagged on the run."""
        name, version = run_package(run_id, self.experiment_id)
        result = upload_paths(self.uploader, name, version, [root])
        self.tag_outputs(run_id, name, version, result.manifest_url)

    def tag_outputs(self, run_id: str, name: str, version: str, url: str = "") -> None:
        """Point the run's tags at outputs package `name` `version` (uploaded or not)."""
        for key, value in package_tags(name, version, url or "-").items():
            self.api.mlflow("POST", "runs/set-tag",
                            json={"run_id": run_id, "key": key, "value": value})

    def version_files(self) -> dict[str, bytes]:
        version = self.versions()["1.0.0"]["version"]
        manifest = self.model_file(version, "manifest.json").json()
        return {f["path"]: self.model_file(version, f["path"]).content
                for f in manifest["files"]}


@pytest.fixture
def lab(sandbox, api, tmp_path, monkeypatch) -> RunFilesLab:
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", sandbox.tokens["developer"])
    monkeypatch.setenv("MLFLOW_GITLAB_RETRY_ATTEMPTS", "2")
    return RunFilesLab(sandbox, api, tmp_path)


MODEL_FILES = {"model/MLmodel": MLMODEL.encode(), "model/model.skops": b"weights",
               "model/requirements.txt": b"scikit-learn\n", "plot.png": b"not the model"}


def test_a_logged_model_is_released_from_the_run_files(lab):
    pipeline = lab.pipeline()
    lab.logged(pipeline, MODEL_FILES)
    result = lab.release(pipeline)
    assert (result.version, result.created, result.completed) == ("1.0.0", True, True)
    tags = lab.versions()["1.0.0"]["tags"]
    assert tags["mlflow-gitlab.source.package"].startswith("candidate:")
    assert tags["mlflow-gitlab.model_path"] == "model"
    assert lab.version_files() == {"MLmodel": MLMODEL.encode(), "model.skops": b"weights",
                                   "requirements.txt": b"scikit-learn\n"}


def test_outputs_without_a_model_give_way_to_the_logged_model(lab):
    pipeline = lab.pipeline()
    run_id = lab.logged(pipeline, MODEL_FILES)
    root = lab.tmp / "outputs-only"
    root.mkdir()
    (root / "report.html").write_text("<p>metrics</p>")
    lab.upload_tree(run_id, root)
    lab.release(pipeline)
    assert set(lab.version_files()) == {"MLmodel", "model.skops", "requirements.txt"}


def test_an_incomplete_outputs_package_never_releases_files_that_are_not_a_model(lab):
    pipeline = lab.pipeline()
    run_id = lab.logged(pipeline, {"plot.png": b"a plot"})
    lab.tag_outputs(run_id, *run_package(run_id, lab.experiment_id))  # never uploaded
    with pytest.raises(ReleaseError, match=r"has no complete outputs package .* and no MLmodel"):
        lab.release(pipeline)
    assert lab.versions() == {}


def test_an_incomplete_outputs_package_with_a_logged_model_releases_it_and_says_so(
        lab, caplog):
    pipeline = lab.pipeline()
    run_id = lab.logged(pipeline, MODEL_FILES)
    lab.tag_outputs(run_id, *run_package(run_id, lab.experiment_id))
    with caplog.at_level(logging.WARNING, logger="mlflow_gitlab"):
        lab.release(pipeline)
    assert "has no manifest.json; releasing the model in the run's own files" in caplog.text
    assert "MLmodel" in lab.version_files()


def test_two_files_stored_under_one_name_are_refused_before_a_version_exists(lab):
    pipeline = lab.pipeline()
    lab.logged(pipeline, {"model/MLmodel": MLMODEL.encode(), "model/a b.txt": b"1",
                          "model/a_b.txt": b"2"})
    with pytest.raises(ReleaseError, match=r"would both be stored as .a_b\.txt."):
        lab.release(pipeline)
    assert lab.versions() == {}


def test_a_copy_that_failed_is_completed_from_the_recorded_run_files(lab, sandbox):
    pipeline = lab.pipeline()
    lab.logged(pipeline, MODEL_FILES)
    sandbox.inject("PUT", r"/packages/ml_models/\d+/files/model\.skops", status=500, times=2)
    with pytest.raises(ReleaseError, match="copying its files failed"):
        lab.release(pipeline)
    retried = lab.release(pipeline)
    assert (retried.version, retried.created, retried.completed) == ("1.0.0", False, True)
    assert lab.version_files()["model.skops"] == b"weights"


def test_the_next_release_compares_with_the_signature_copied_from_run_files(lab):
    first = lab.pipeline()
    lab.logged(first, MODEL_FILES)
    lab.release(first)
    second = lab.pipeline()
    wider = yaml.safe_load(MLMODEL)
    wider["signature"] = signature(FRAME.assign(region=["x", "y"])).to_dict()
    lab.logged(second, {**MODEL_FILES, "model/MLmodel": yaml.safe_dump(wider).encode()})
    assert lab.release(second).version == "2.0.0"  # a new required input
