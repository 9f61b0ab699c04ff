"""A release's files: the candidate's model in, the model version's package out.

The candidate's files are its outputs package (the generic package its run tags point to,
docs/packages.md), else the run's own files (where `log_model` puts a model through the
relay): see `release_sources`. Its MLflow model is the folder holding the one file named
`MLmodel` (or `--model-path`; among a run's logged models, the newest READY one); that
folder's files, verified on the way, go to the version's `ml_model` package with paths
relative to it, so `MLmodel` sits at the top; with no `MLmodel`, every file goes.
The version's `manifest.json` goes last: a version is complete iff its package holds one.
"""

from __future__ import annotations

import logging
import posixpath
import re
import tempfile
import threading
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path

from mlflow_gitlab.errors import PackageDownloadError, ReleaseError
from mlflow_gitlab.gitlab_api import GitLabClient, connect
from mlflow_gitlab.packages import (
    MANIFEST,
    FileEntry,
    Manifest,
    Part,
    fetch_manifest,
    package_from_tags,
    run_package,
)
from mlflow_gitlab.packages.naming import part_name, remote_name, url_path
from mlflow_gitlab.packages.parallel import in_parallel
from mlflow_gitlab.packages.transport import put_slice
from mlflow_gitlab.registry import ModelVersion
from mlflow_gitlab.relay.model_records import records
from mlflow_gitlab.relay.storage import storage_of
from mlflow_gitlab.release_record import MODEL_PATH, SOURCE_PACKAGE, Provenance
from mlflow_gitlab.release_select import Candidate
from mlflow_gitlab.release_sources import (
    RUN_FILES_PREFIX,
    OutputsPackage,
    RunFiles,
    SourceFiles,
    list_run_files,
)
from mlflow_gitlab.settings import GitLabSettings, TransferSettings
from mlflow_gitlab.signatures import MLMODEL, Signature, parse_mlmodel

log = logging.getLogger(__name__)
_NOT_NAME = re.compile(r"[^A-Za-z0-9._+-]")


@dataclass(frozen=True)
class CandidateFiles:
    """Where the candidate's files are, and which of them are its model."""

    provenance: Provenance
    source: SourceFiles
    model: tuple[str, ...]  # the paths to copy

    def relative(self, path: str) -> str:
        folder = self.provenance.model_path
        return posixpath.relpath(path, folder) if folder else path


class ReleaseFiles:
    """Reads candidates' packages and writes model versions' packages on one project."""

    def __init__(self, settings: GitLabSettings, transfer: TransferSettings,
                 tracking_token: str | None = None) -> None:
        self.transfer = transfer
        self.packages = connect(settings)
        self.models = _bearer(settings)
        # The artifact proxy that lists a run's files is an MLflow route: it takes the
        # tracking token, never a job token (reference §2.3, §10).
        self.run_files = None if not tracking_token else _bearer(replace(
            settings, token=tracking_token, token_variable="MLFLOW_TRACKING_TOKEN"))

    def locate(self, candidate: Candidate, model_path: str | None) -> CandidateFiles:
        """The candidate's files and its model folder (`model_path`, else found).

        Raises:
            ReleaseError: neither an outputs package nor run files, or no single model folder.
        """
        outputs, problem = self._outputs(candidate)
        run_files = self._run_files(candidate)
        sources = [s for s in (outputs, run_files) if s is not None]
        if not sources:
            raise ReleaseError(f"run {candidate.run_id} has no complete outputs package "
                               f"({problem}) and no files of its own",
                               hint="log the model with mlflow, or upload the run's outputs "
                                    "with mlflow-gitlab, before releasing it")
        source, folder = pick_model(sources, model_path, _newest_logged_model(candidate))
        if problem and source is run_files and package_from_tags(candidate.tags):
            log.warning("%s; releasing the model in the run's own files", problem)
        paths = tuple(p for p in source.paths
                      if folder is None or not folder or p.startswith(folder + "/"))
        if any(posixpath.relpath(p, folder or ".") == MANIFEST for p in paths):
            raise ReleaseError(f"the model folder holds a file named {MANIFEST}, which a "
                               "model version's package keeps for its own manifest")
        return CandidateFiles(Provenance(candidate, source.label, folder), source, paths)

    def candidate_signature(self, source: CandidateFiles) -> Signature | None:
        """The signature in the candidate's `MLmodel` (None without one)."""
        folder = source.provenance.model_path
        if folder is None:
            return None
        path = posixpath.join(folder, MLMODEL) if folder else MLMODEL
        return parse_mlmodel(source.source.read_text(path), f"the run's {path}")

    def version_signature(self, version: ModelVersion) -> Signature | None:
        """The signature of a version: its package's `MLmodel`, else its source's."""
        response = self.models.session.get(self._model_url(version, MLMODEL))
        if response.ok:
            return parse_mlmodel(response.text, f"{version.label}'s {MLMODEL}")
        if response.status_code != 404:
            self.models.check(response, f"read {MLMODEL} of {version.label}")
        package, folder = version.tags.get(SOURCE_PACKAGE), version.tags.get(MODEL_PATH)
        if not package or folder is None:
            return None  # not released by us with a model: no signature known
        path = MLMODEL if folder == "." else posixpath.join(folder, MLMODEL)
        source: SourceFiles
        if package.startswith(RUN_FILES_PREFIX):
            source = RunFiles(self.models, package, {}, self.transfer)
        else:
            name, _, package_version = package.partition("/")
            source = OutputsPackage(self.packages, fetch_manifest(self.packages, name,
                                                                  package_version),
                                    self.transfer)
            if path not in source.paths:
                return None
        return parse_mlmodel(source.read_text(path), path)

    def is_complete(self, version: ModelVersion) -> bool:
        """Whether the version's package holds its manifest (uploaded after every file)."""
        response = self.models.session.get(self._model_url(version, MANIFEST))
        if response.status_code == 404:
            return False
        self.models.check(response, f"read {MANIFEST} of {version.label}")
        return True

    def copy(self, source: CandidateFiles, version: ModelVersion) -> Manifest:
        """Copy the candidate's model files into the version's package, manifest last.

        Files are downloaded from the candidate's package (each verified against its
        manifest, or hashed as it arrives from the run's files), then uploaded part by
        part, each verified by its SHA-256.

        Raises:
            PackageDownloadError, PackageUploadError, GitLabAPIError, ConfigError: a file
                could not be moved; the version stays incomplete (no manifest).
        """
        stop = threading.Event()
        with tempfile.TemporaryDirectory(prefix="mlflow-gitlab-release-") as tmp:
            fetched = source.source.fetch(source.model, Path(tmp))

            def send(entry: FileEntry) -> FileEntry:
                return self._upload(version, Path(tmp), source, entry, stop)

            entries = in_parallel(send, fetched, self.transfer.parallel, stop)
        manifest = Manifest(_NOT_NAME.sub("_", version.name), str(version.semver),
                            tuple(sorted(entries, key=lambda e: e.path)))
        what = f"upload {MANIFEST} to {version.label}"
        self.models.check(self.models.session.put(self._model_url(version, MANIFEST),
                                                  data=manifest.to_bytes()), what)
        return manifest

    def _outputs(self, candidate: Candidate) -> tuple[OutputsPackage | None, str | None]:
        """The run's complete outputs package, or None and why not."""
        name, version = (package_from_tags(candidate.tags)
                         or run_package(candidate.run_id, candidate.experiment_id))
        try:
            manifest = fetch_manifest(self.packages, name, version)
        except PackageDownloadError as exc:
            return None, str(exc)
        return OutputsPackage(self.packages, manifest, self.transfer), None

    def _run_files(self, candidate: Candidate) -> RunFiles | None:
        """The run's own files, when GitLab keeps them in a candidate package with some."""
        storage = storage_of(candidate.artifact_uri)
        ref = storage.ref if storage is not None else None
        if self.run_files is None or not ref or not ref.startswith(RUN_FILES_PREFIX):
            return None
        sizes = list_run_files(self.run_files, ref)
        return RunFiles(self.run_files, ref, sizes, self.transfer) if sizes else None

    def _upload(self, version: ModelVersion, root: Path, source: CandidateFiles,
                entry: FileEntry, stop: threading.Event) -> FileEntry:
        relative = source.relative(entry.path)
        local = root.joinpath(*entry.path.split("/"))
        name = remote_name(relative)
        parts, offset = [], 0
        for i, part in enumerate(entry.parts, 1):
            stored = name if not entry.split else part_name(name, i)
            what = f"upload {stored} to {version.label}"
            digest, _ = put_slice(self.models, self._model_url(version, stored), local,
                                  offset=offset, length=part.size, whole=None,
                                  on_bytes=_ignore, stop=stop, what=what)
            if digest != part.sha256:
                raise PackageDownloadError(f"{entry.path} changed after it was verified")
            parts.append(Part(stored, part.size, digest))
            offset += part.size
        return FileEntry(relative, entry.size, entry.sha256, tuple(parts))

    def _model_url(self, version: ModelVersion, name: str) -> str:
        return f"{self.models.project_url}/packages/ml_models/{version.id}/files/{url_path(name)}"


def pick_model(sources: Iterable[SourceFiles], model_path: str | None,
               preferred: str | None = None) -> tuple[SourceFiles, str | None]:
    """The source holding the model, and its folder (see `model_folder`).

    The first source with an `MLmodel` (at `model_path`, when given) wins; with none, the
    first source, every file of it.

    Raises:
        ReleaseError: no source holds `model_path`, or the winner holds several models.
    """
    sources = list(sources)
    for source in sources:
        found = mlmodel_folders(source.paths)
        if found and (model_path is None or _wanted(model_path) in found):
            return source, model_folder(source.paths, model_path, preferred)
    if model_path is not None:
        found = sorted({f for s in sources for f in mlmodel_folders(s.paths)})
        raise ReleaseError(f"--model-path {model_path!r} holds no {MLMODEL} in the run's "
                           f"files", hint=f"folders with one: {', '.join(found) or 'none'}")
    return sources[0], None


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
        wanted = _wanted(model_path)
        if wanted not in found:
            raise ReleaseError(f"--model-path {model_path!r} holds no {MLMODEL} in the run's "
                               f"files", hint=f"folders with one: {', '.join(found) or 'none'}")
        return wanted
    if len(found) > 1 and preferred in found:
        return preferred
    if len(found) > 1:
        raise ReleaseError(f"the run's files hold {len(found)} {MLMODEL} files "
                           f"({', '.join(f or '.' for f in found)})",
                           hint="pass --model-path to name the model's folder")
    return found[0] if found else None


def mlmodel_folders(paths: Iterable[str]) -> list[str]:
    """The folders holding a file named `MLmodel`, sorted ("" for the top)."""
    return sorted(posixpath.dirname(p) for p in paths if posixpath.basename(p) == MLMODEL)


def _wanted(model_path: str) -> str:
    wanted = model_path.strip("/").removeprefix("./")
    return "" if wanted in ("", ".") else wanted


def _bearer(settings: GitLabSettings) -> GitLabClient:
    """A client sending `Authorization: Bearer`, as the ml_model routes want (§14)."""
    client = connect(settings)
    for header in ("PRIVATE-TOKEN", "JOB-TOKEN"):
        client.session.headers.pop(header, None)
    client.session.headers["Authorization"] = f"Bearer {settings.token}"
    return client


def _newest_logged_model(candidate: Candidate) -> str | None:
    """The folder of the run's newest READY model logged through the relay, if any."""
    run = {"info": {"run_id": candidate.run_id},
           "data": {"tags": [{"key": k, "value": v} for k, v in candidate.tags.items()]}}
    ready = [r for r in records(run) if r.status == "READY"]
    return ready[0].path if ready else None


def _ignore(_: int) -> None:
    """Progress callback: release transfers show no byte progress of their own."""
