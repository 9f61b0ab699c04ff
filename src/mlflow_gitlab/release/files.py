"""A release's files: the candidate's model in, the model version's package out.

The model is found in the candidate's outputs package, else in the run's own files (where
`log_model` puts it through the relay); see `release.sources` for both and `release.model_files`
for which files are the model. They go to the version's `ml_model` package with paths
relative to the model's folder, so `MLmodel` sits at the top, each verified on the way.
The version's `manifest.json` goes last: a version is complete iff its package holds one.
"""

from __future__ import annotations

import logging
import posixpath
import re
import tempfile
import threading
from dataclasses import dataclass, replace
from pathlib import Path

from mlflow_gitlab.env import TRACKING_TOKEN
from mlflow_gitlab.errors import PackageDownloadError, ReleaseError
from mlflow_gitlab.gitlab_api import GitLabClient, bearer_client, connect
from mlflow_gitlab.packages import (
    MANIFEST,
    FileEntry,
    Manifest,
    Part,
    fetch_manifest,
    package_from_tags,
    run_package,
)
from mlflow_gitlab.packages.naming import part_name, remote_name
from mlflow_gitlab.packages.parallel import in_parallel
from mlflow_gitlab.packages.transport import put_slice
from mlflow_gitlab.relay.storage import storage_of
from mlflow_gitlab.release.model_files import (
    holds_model,
    model_files,
    model_folder,
    newest_logged_model,
)
from mlflow_gitlab.release.record import MODEL_PATH, SOURCE_PACKAGE, Provenance
from mlflow_gitlab.release.sources import (
    RUN_FILES_PREFIX,
    OutputsPackage,
    RunFiles,
    SourceFiles,
    list_run_files,
    ml_model_file_url,
    no_progress,
)
from mlflow_gitlab.settings import GitLabSettings, TrackingSettings, TransferSettings
from mlflow_gitlab.tracking.registry import ModelVersion
from mlflow_gitlab.tracking.run_search import Candidate
from mlflow_gitlab.tracking.signatures import MLMODEL, Signature, parse_mlmodel

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
    """Reads candidates' files and writes model versions' packages on one project."""

    def __init__(self, settings: GitLabSettings, transfer: TransferSettings,
                 tracking: TrackingSettings | None = None) -> None:
        self.transfer = transfer
        self.packages = connect(settings)
        self.models = _bearer(settings)
        # A run's files are listed by an MLflow route of the tracking project, which takes
        # the tracking token, never a job token.
        self.run_files: GitLabClient | None = None
        if tracking and tracking.gitlab_api_url and tracking.project and tracking.token:
            self.run_files = _bearer(replace(
                settings, api_url=tracking.gitlab_api_url, project=tracking.project,
                token=tracking.token, token_variable=TRACKING_TOKEN.name))

    def locate(self, candidate: Candidate, model_path: str | None,
               recorded: str | None = None) -> CandidateFiles:
        """The candidate's model: in its outputs package, else in its own files when they
        hold an `MLmodel` (at `model_path`, when given). `recorded` (a version's
        `source.package`) limits the search to where an earlier attempt found it.

        Raises:
            ReleaseError: no complete outputs package nor a model in the run's files, or
                no single model folder.
        """
        from_run = bool(recorded and recorded.startswith(RUN_FILES_PREFIX))
        outputs, problem = (None, None) if from_run else self._outputs(candidate)
        source: SourceFiles | None = outputs
        if (outputs is None or not holds_model(outputs.paths, model_path)) and (
                not recorded or from_run):
            try:
                run_files = self._run_files(candidate)
            except ReleaseError as exc:  # an older GitLab: the outputs alone must do
                if outputs is None:
                    raise
                log.info("%s; releasing the outputs package", exc)
                run_files = None
            if run_files is not None and holds_model(run_files.paths, model_path):
                source = run_files
                if problem and package_from_tags(candidate.tags):
                    log.warning("%s; releasing the model in the run's own files", problem)
        if source is None:
            where = f"no complete outputs package ({problem})" if problem else "no files"
            raise ReleaseError(f"run {candidate.run_id} has {where}, and no {MLMODEL} in "
                               "its own files",
                               hint="log the model with mlflow.<flavor>.log_model, or upload "
                                    "the run's outputs with mlflow-gitlab, before releasing it")
        preferred = newest_logged_model(candidate.tags) if source is not outputs else None
        folder = model_folder(source.paths, model_path, preferred)
        return CandidateFiles(Provenance(candidate, source.label, folder), source,
                              model_files(source.paths, folder))

    def candidate_signature(self, source: CandidateFiles) -> Signature | None:
        """The signature in the candidate's `MLmodel` (None without one)."""
        folder = source.provenance.model_path
        if folder is None:
            return None
        path = posixpath.join(folder, MLMODEL) if folder else MLMODEL
        return parse_mlmodel(source.source.read_text(path), f"the run's {path}")

    def version_signature(self, version: ModelVersion) -> Signature | None:
        """The signature of a version: its package's `MLmodel`, else its source's (None
        when neither is there any more)."""
        response = self.models.session.get(self._model_url(version, MLMODEL))
        if response.ok:
            return parse_mlmodel(response.text, f"{version.label}'s {MLMODEL}")
        if response.status_code != 404:
            self.models.check(response, f"read {MLMODEL} of {version.label}")
        package, folder = version.tags.get(SOURCE_PACKAGE), version.tags.get(MODEL_PATH)
        if not package or folder is None:
            return None  # not released by us with a model: no signature known
        path = MLMODEL if folder == "." else posixpath.join(folder, MLMODEL)
        try:
            if package.startswith(RUN_FILES_PREFIX):
                client = self.run_files or self.models
                return parse_mlmodel(RunFiles(client, package, (), self.transfer)
                                     .read_text(path), path)
            name, _, package_version = package.partition("/")
            outputs = OutputsPackage(self.packages, fetch_manifest(self.packages, name,
                                                                   package_version),
                                     self.transfer)
        except PackageDownloadError:
            return None  # the source is gone too
        return parse_mlmodel(outputs.read_text(path), path) if path in outputs.paths else None

    def is_complete(self, version: ModelVersion) -> bool:
        """Whether the version's package holds its manifest (uploaded after every file)."""
        response = self.models.session.get(self._model_url(version, MANIFEST))
        if response.status_code == 404:
            return False
        self.models.check(response, f"read {MANIFEST} of {version.label}")
        return True

    def copy(self, source: CandidateFiles, version: ModelVersion) -> Manifest:
        """Copy the candidate's model files into the version's package, manifest last.

        Files are downloaded (each verified against the outputs' manifest, or hashed as it
        arrives from the run's files), then uploaded part by part, each verified by its
        SHA-256.

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
        """The run's own files, when GitLab keeps them in a candidate package."""
        storage = storage_of(candidate.artifact_uri)
        ref = storage.ref if storage is not None else None
        if self.run_files is None or not ref or not ref.startswith(RUN_FILES_PREFIX):
            return None
        return RunFiles(self.run_files, ref, list_run_files(self.run_files, ref),
                        self.transfer)

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
                                  on_bytes=no_progress, stop=stop, what=what)
            if digest != part.sha256:
                raise PackageDownloadError(f"{entry.path} changed after it was verified")
            parts.append(Part(stored, part.size, digest))
            offset += part.size
        return FileEntry(relative, entry.size, entry.sha256, tuple(parts))

    def _model_url(self, version: ModelVersion, name: str) -> str:
        return ml_model_file_url(self.models, str(version.id), name)


def _bearer(settings: GitLabSettings) -> GitLabClient:
    """A client sending `Authorization: Bearer`, as the ml_model routes want."""
    return bearer_client(settings)
