"""A release's files: the candidate's outputs package in, the model version's package out.

The candidate's outputs are the generic package its run tags point to (docs/packages.md).
Its MLflow model is the folder holding the one file named `MLmodel` (or `--model-path`);
that folder's files, verified on download, go to the version's `ml_model` package with
paths relative to it, so `MLmodel` sits at the top; with no `MLmodel`, every file goes.
The version's `manifest.json` goes last: a version is complete iff its package holds one.
"""

from __future__ import annotations

import hashlib
import posixpath
import re
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from mlflow_gitlab.errors import PackageDownloadError, ReleaseError
from mlflow_gitlab.gitlab_api import connect
from mlflow_gitlab.packages import (
    MANIFEST,
    FileEntry,
    Manifest,
    Part,
    download_package,
    fetch_manifest,
    file_url,
    package_from_tags,
    run_package,
)
from mlflow_gitlab.packages.naming import part_name, remote_name, url_path
from mlflow_gitlab.packages.parallel import in_parallel
from mlflow_gitlab.packages.transport import put_slice
from mlflow_gitlab.registry import ModelVersion
from mlflow_gitlab.release_record import MODEL_PATH, SOURCE_PACKAGE, Provenance
from mlflow_gitlab.release_select import Candidate
from mlflow_gitlab.settings import GitLabSettings, TransferSettings
from mlflow_gitlab.signatures import MLMODEL, Signature, parse_mlmodel

_NOT_NAME = re.compile(r"[^A-Za-z0-9._+-]")


@dataclass(frozen=True)
class CandidateFiles:
    """The candidate's outputs package and the files of its model."""

    provenance: Provenance
    manifest: Manifest
    model: tuple[FileEntry, ...]  # the files to copy

    def relative(self, entry: FileEntry) -> str:
        folder = self.provenance.model_path
        return posixpath.relpath(entry.path, folder) if folder else entry.path


class ReleaseFiles:
    """Reads candidates' packages and writes model versions' packages on one project."""

    def __init__(self, settings: GitLabSettings, transfer: TransferSettings) -> None:
        self.transfer = transfer
        self.packages = connect(settings)
        self.models = connect(settings)
        # ml_model file routes read the token from `Authorization: Bearer` only (§2.3, §14).
        for header in ("PRIVATE-TOKEN", "JOB-TOKEN"):
            self.models.session.headers.pop(header, None)
        self.models.session.headers["Authorization"] = f"Bearer {settings.token}"

    def locate(self, candidate: Candidate, model_path: str | None) -> CandidateFiles:
        """The candidate's manifest and model folder (`model_path`, else found).

        Raises:
            ReleaseError: no complete outputs package, or no single model folder.
        """
        name, version = (package_from_tags(candidate.tags)
                         or run_package(candidate.run_id, candidate.experiment_id))
        try:
            manifest = fetch_manifest(self.packages, name, version)
        except PackageDownloadError as exc:
            raise ReleaseError(f"run {candidate.run_id} has no complete outputs package: {exc}",
                               hint="upload the run's outputs with mlflow-gitlab before "
                                    "releasing it") from exc
        folder = model_folder(manifest, model_path)
        files = tuple(e for e in manifest.files
                      if folder is None or not folder or e.path.startswith(folder + "/"))
        if any(posixpath.relpath(e.path, folder or ".") == MANIFEST for e in files):
            raise ReleaseError(f"the model folder holds a file named {MANIFEST}, which a "
                               "model version's package keeps for its own manifest")
        return CandidateFiles(Provenance(candidate, f"{name}/{version}", folder), manifest, files)

    def candidate_signature(self, source: CandidateFiles) -> Signature | None:
        """The signature in the candidate's `MLmodel` (None without one)."""
        folder = source.provenance.model_path
        if folder is None:
            return None
        path = posixpath.join(folder, MLMODEL) if folder else MLMODEL
        entry = next(e for e in source.manifest.files if e.path == path)
        return parse_mlmodel(self._read(source.manifest, entry), f"run outputs' {path}")

    def version_signature(self, version: ModelVersion) -> Signature | None:
        """The signature of a version: its package's `MLmodel`, else its source package's."""
        response = self.models.session.get(self._model_url(version, MLMODEL))
        if response.ok:
            return parse_mlmodel(response.text, f"{version.label}'s {MLMODEL}")
        if response.status_code != 404:
            self.models.check(response, f"read {MLMODEL} of {version.label}")
        package, folder = version.tags.get(SOURCE_PACKAGE), version.tags.get(MODEL_PATH)
        if not package or folder is None:
            return None  # not released by us with a model: no signature known
        manifest = fetch_manifest(self.packages, *package.split("/", 1))
        path = MLMODEL if folder == "." else posixpath.join(folder, MLMODEL)
        entry = next((e for e in manifest.files if e.path == path), None)
        return None if entry is None else parse_mlmodel(self._read(manifest, entry), path)

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
        manifest), then uploaded part by part, each verified by its SHA-256.

        Raises:
            PackageDownloadError, PackageUploadError, GitLabAPIError, ConfigError: a file
                could not be moved; the version stays incomplete (no manifest).
        """
        name, package_version = source.manifest.package, source.manifest.version
        stop = threading.Event()
        with tempfile.TemporaryDirectory(prefix="mlflow-gitlab-release-") as tmp:
            download_package(self.packages, name, package_version, tmp, transfer=self.transfer)

            def send(entry: FileEntry) -> FileEntry:
                return self._upload(version, Path(tmp), source, entry, stop)

            entries = in_parallel(send, source.model, self.transfer.parallel, stop)
        manifest = Manifest(_NOT_NAME.sub("_", version.name), str(version.semver),
                            tuple(sorted(entries, key=lambda e: e.path)))
        what = f"upload {MANIFEST} to {version.label}"
        self.models.check(self.models.session.put(self._model_url(version, MANIFEST),
                                                  data=manifest.to_bytes()), what)
        return manifest

    def _upload(self, version: ModelVersion, root: Path, source: CandidateFiles,
                entry: FileEntry, stop: threading.Event) -> FileEntry:
        relative = source.relative(entry)
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

    def _read(self, manifest: Manifest, entry: FileEntry) -> str:
        """One small file (an `MLmodel`) of a generic package, checked against its manifest."""
        what = f"download {entry.path} of package {manifest.package} {manifest.version}"
        body = b""
        for part in entry.parts:
            url = file_url(self.packages, manifest.package, manifest.version, part.name)
            body += self.packages.check(self.packages.session.get(url), what).content
        if hashlib.sha256(body).hexdigest() != entry.sha256:
            raise PackageDownloadError(f"cannot {what}: its bytes do not match the manifest")
        return body.decode("utf-8", errors="replace")  # not UTF-8: the YAML parse says so

    def _model_url(self, version: ModelVersion, name: str) -> str:
        return f"{self.models.project_url}/packages/ml_models/{version.id}/files/{url_path(name)}"


def model_folder(manifest: Manifest, model_path: str | None) -> str | None:
    """The folder (in manifest paths) holding the model's `MLmodel`: "" for the top, None
    when the outputs hold no `MLmodel` (every file is then the model's).

    Raises:
        ReleaseError: `model_path` holds no `MLmodel`, or several folders do and none was named.
    """
    found = sorted(posixpath.dirname(e.path) for e in manifest.files
                   if posixpath.basename(e.path) == MLMODEL)
    if model_path is not None:
        wanted = model_path.strip("/").removeprefix("./")
        wanted = "" if wanted in ("", ".") else wanted
        if wanted not in found:
            raise ReleaseError(f"--model-path {model_path!r} holds no {MLMODEL} in the run's "
                               f"outputs", hint=f"folders with one: {', '.join(found) or 'none'}")
        return wanted
    if len(found) > 1:
        raise ReleaseError(f"the run's outputs hold {len(found)} {MLMODEL} files "
                           f"({', '.join(f or '.' for f in found)})",
                           hint="pass --model-path to name the model's folder")
    return found[0] if found else None


def _ignore(_: int) -> None:
    """Progress callback: release transfers show no byte progress of their own."""
