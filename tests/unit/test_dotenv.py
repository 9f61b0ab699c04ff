"""`--dotenv` paths: refused before any work, and their folder made only when written."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from mlflow_gitlab.errors import ConfigError
from mlflow_gitlab.output.dotenv import check_dotenv_path, write_dotenv


def test_the_check_creates_no_folder_and_the_write_does(tmp_path):
    path = tmp_path / "build" / "sub" / "run.env"
    check_dotenv_path(path)
    assert list(tmp_path.iterdir()) == []  # a command refused after the check leaves nothing
    write_dotenv(path, {"MLFLOW_RUN_ID": "abc"})
    write_dotenv(path, {"MODEL_VERSION": "1.0.0"})
    assert path.read_text() == "MLFLOW_RUN_ID=abc\nMODEL_VERSION=1.0.0\n"


@pytest.mark.parametrize(("target", "reason"), [
    ("model.pkl/run.env", "model.pkl is a file"),
    ("model.pkl/deeper/run.env", "model.pkl is a file"),
    ("dangling/run.env", "dangling is not a folder"),
    ("outputs", "it is a folder"),
])
def test_a_path_that_cannot_be_written_is_refused(tmp_path, monkeypatch, target, reason):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "model.pkl").write_bytes(b"weights")
    (tmp_path / "dangling").symlink_to(tmp_path / "gone")
    (tmp_path / "outputs").mkdir()
    message = f"cannot write dotenv file {target}: {reason}"
    with pytest.raises(ConfigError, match=f"^{re.escape(message)}$"):
        check_dotenv_path(Path(target))


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write to any folder")
def test_a_folder_that_cannot_be_written_to_is_refused(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o555)
    with pytest.raises(ConfigError, match=r"locked is not writable$"):
        check_dotenv_path(locked / "new" / "run.env")
    assert list(locked.iterdir()) == []
