"""Where a run's files live on GitLab, and how the relay names them to the child (pure).

The child sees every run's artifacts as `mlflow-artifacts:/runs/<run_id>`, which its MLflow
client resolves against the tracking URI, that is the relay. Behind it, a run's files are
its `ml_model` candidate package (`Ml::Candidate#artifact_root`,
`lib/api/ml_model_packages.rb`): uploads go
to `packages/ml_models/candidate:<iid>/files/<path>` (GitLab keeps sub-paths as one
`%2F`-encoded name, so `model/MLmodel` is the file `model%2FMLmodel`), and listings are
rebuilt here into folders from the flat names GitLab's artifact proxy lists.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

RELAY_SCHEME = "mlflow-artifacts:/runs/"
_PROXY = re.compile(r"\Amlflow-artifacts:/+(?P<ref>candidate:\d+|\d+)/*\Z")
_ML_MODEL = re.compile(r"/packages/ml_models/(?P<ref>candidate(?::|%3A)\d+|\d+)/files/*\Z",
                       re.IGNORECASE)
_STORED_REF = re.compile(r"\A(?:candidate:)?\d+\Z")
_GENERIC = re.compile(r"\Ahttps?://.+/packages/generic/[^/]+/[^/]+/*\Z")


@dataclass(frozen=True)
class Storage:
    """A run's files on GitLab: an `ml_model` package target, or a legacy generic package.

    Attributes:
        ref: `candidate:<iid>` or a model-version id, as the package-file routes and the
            artifact proxy take it; None for a legacy run.
        generic_url: the legacy generic package's URL (GitLab 15.11-16.x runs), else None.
    """

    ref: str | None = None
    generic_url: str | None = None


def storage_of(artifact_uri: str) -> Storage | None:
    """Where the files of a run with this (GitLab-made) `artifact_uri` are; None if unknown."""
    uri = artifact_uri.strip()
    if match := _PROXY.match(uri):
        return Storage(ref=match["ref"])
    if match := _ML_MODEL.search(uri):
        return Storage(ref=re.sub("%3A", ":", match["ref"], flags=re.IGNORECASE))
    if _GENERIC.match(uri):
        return Storage(generic_url=uri.rstrip("/"))
    return None


def relay_uri(run_id: str, path: str = "") -> str:
    """The artifact URI the child gets for run `run_id` (or a folder in it)."""
    return RELAY_SCHEME + run_id + (f"/{path.strip('/')}" if path.strip("/") else "")


def split_relay_path(path: str) -> tuple[str, str] | None:
    """`runs/<run_id>/<file path>` -> (run_id, file path); None for anything else.

    Raises:
        ValueError: the file path climbs out of the run (`..`).
    """
    parts = unquote(path).strip("/").split("/")
    if len(parts) < 2 or parts[0] != "runs" or not parts[1]:
        return None
    return parts[1], _file_path(parts[2:], "the run")


def split_stored_path(path: str) -> tuple[str, str] | None:
    """`<model version id>/<file path>` or `candidate:<iid>/<file path>` -> (ref, file path).

    These are the names GitLab's artifact proxy gives a package: `get-download-uri` answers
    `mlflow-artifacts:/<model version id>` for a version. None for anything else.

    Raises:
        ValueError: the file path climbs out of the package (`..`).
    """
    parts = unquote(path).strip("/").split("/")
    if not _STORED_REF.match(parts[0]):
        return None
    return parts[0], _file_path(parts[1:], "its package")


def _file_path(parts: list[str], owner: str) -> str:
    rest = "/".join(p for p in parts if p not in ("", "."))
    if ".." in rest.split("/"):
        raise ValueError(f"artifact path {rest!r} leaves {owner}")
    return rest


def listing(files: Iterable[Mapping[str, Any]], folder: str) -> list[dict[str, Any]]:
    """The entries directly in `folder`, from GitLab's flat list of stored file names.

    Names come back as stored (`model%2FMLmodel`) and are decoded into paths; a name
    uploaded twice is listed once, with its newest size. Paths are relative to `folder`,
    as MLflow's artifact server answers; a `folder` that is a file lists nothing.
    """
    sizes: dict[str, int | None] = {}
    for item in files:
        sizes[unquote(str(item.get("path", "")))] = item.get("file_size")
    folder = folder.strip("/")
    if folder in sizes:
        return []
    prefix = f"{folder}/" if folder else ""
    dirs: set[str] = set()
    entries: dict[str, int | None] = {}
    for name, size in sizes.items():
        if not name.startswith(prefix):
            continue
        head, slash, _ = name[len(prefix):].partition("/")
        if not head:
            continue
        if slash:
            dirs.add(head)
        else:
            entries[head] = size
    result: list[dict[str, Any]] = [{"path": d, "is_dir": True} for d in sorted(dirs)]
    for name in sorted(entries):
        item: dict[str, Any] = {"path": name, "is_dir": False}
        if entries[name] is not None:
            item["file_size"] = entries[name]
        result.append(item)
    return result


def in_folder(path: str, folder: str) -> str:
    """`path` inside `folder`, normalised (`folder/path`)."""
    return posixpath.join(folder, path) if folder else path
