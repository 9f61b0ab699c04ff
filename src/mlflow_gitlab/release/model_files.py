"""Which of a candidate's files are its model: the folder holding `MLmodel` (pure).

The model is the folder holding the one file named `MLmodel` (an MLflow model directory),
or `--model-path`; among several models logged in a run through the relay, the newest
READY one. Its files go to a version's package with paths relative to that folder, so
each must keep a distinct GitLab file name, and none may be the version's `manifest.json`.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Mapping

from mlflow_gitlab.errors import ReleaseError
from mlflow_gitlab.logged_models import records
from mlflow_gitlab.packages import MANIFEST
from mlflow_gitlab.packages.naming import find_collisions, remote_name
from mlflow_gitlab.tracking.signatures import MLMODEL


def mlmodel_folders(paths: Iterable[str]) -> list[str]:
    """The folders holding a file named `MLmodel`, sorted ("" for the top)."""
    return sorted(posixpath.dirname(p) for p in paths if posixpath.basename(p) == MLMODEL)


def holds_model(paths: Iterable[str], model_path: str | None) -> bool:
    """Whether `paths` hold an `MLmodel` (in folder `model_path`, when given)."""
    found = mlmodel_folders(paths)
    return bool(found) if model_path is None else folder_named(model_path) in found


def folder_named(model_path: str) -> str:
    """`--model-path` as a folder of `paths` (`./model/` -> `model`, `.` -> "")."""
    wanted = model_path.strip("/").removeprefix("./")
    return "" if wanted in ("", ".") else wanted


def model_folder(paths: Iterable[str], model_path: str | None,
                 preferred: str | None = None) -> str | None:
    """The folder (in `paths`) holding the model's `MLmodel`: "" for the top, None when
    no path is an `MLmodel` (every file is then the model's). Of several, `model_path`,
    else `preferred` (the run's newest logged model) when it is one of them.

    Raises:
        ReleaseError: `model_path` holds no `MLmodel`, or several folders do and none was named.
    """
    found = mlmodel_folders(paths)
    if model_path is not None:
        if folder_named(model_path) not in found:
            raise ReleaseError(f"--model-path {model_path!r} holds no {MLMODEL} in the run's "
                               f"files", hint=f"folders with one: {', '.join(found) or 'none'}")
        return folder_named(model_path)
    if len(found) > 1 and preferred in found:
        return preferred
    if len(found) > 1:
        raise ReleaseError(f"the run's files hold {len(found)} {MLMODEL} files "
                           f"({', '.join(f or '.' for f in found)})",
                           hint="pass --model-path to name the model's folder")
    return found[0] if found else None


def model_files(paths: Iterable[str], folder: str | None) -> tuple[str, ...]:
    """The paths inside `folder` (all of them when None), checked for the version's package.

    Raises:
        ReleaseError: one would be stored as `manifest.json`, or two under one file name.
    """
    chosen = tuple(p for p in paths if not folder or p.startswith(folder + "/"))
    names = [(MANIFEST, "the version's manifest")]
    names += [(remote_name(posixpath.relpath(p, folder) if folder else p), p) for p in chosen]
    clashes = find_collisions(names)
    if clashes:
        name, first, second = clashes[0]
        raise ReleaseError(f"{second!r} and {first} would both be stored as {name!r} in the "
                           "model version's package",
                           hint="rename one of them: package file names allow only letters, "
                                "digits and . _ - +, other characters become _")
    return chosen


def newest_logged_model(tags: Mapping[str, str]) -> str | None:
    """The folder of the newest READY model logged through the relay, from the run's tags."""
    run = {"data": {"tags": [{"key": k, "value": v} for k, v in tags.items()]}}
    ready = [r for r in records(run) if r.status == "READY"]
    return ready[0].path if ready else None
