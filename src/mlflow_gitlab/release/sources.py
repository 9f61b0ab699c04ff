"""Where a candidate's files are on GitLab: its outputs package, or the run's own files.

- **Outputs package**: the generic package that `run --artifacts` or `upload` wrote, named
  in the run's tags; its manifest verifies every file (docs/packages.md).
- **Run files**: the run's `ml_model` candidate package, where
  `mlflow.<flavor>.log_model` puts a model through the relay (docs/relay.md) and
  `log_artifact` puts files. GitLab's artifact proxy lists them by stored name,
  `%2F`-encoded; there is no manifest, so each file's SHA-256 is taken as it downloads.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from urllib.parse import quote, unquote

import requests

from mlflow_gitlab.errors import PackageDownloadError, ReleaseError
from mlflow_gitlab.gitlab_api import GitLabClient, gitlab_message
from mlflow_gitlab.http import json_or_none, read_json, unexpected
from mlflow_gitlab.http.paths import url_path
from mlflow_gitlab.packages import (
    FileEntry,
    Manifest,
    Part,
    download_package,
    file_url,
)
from mlflow_gitlab.packages.manifest import destination
from mlflow_gitlab.packages.parallel import in_parallel
from mlflow_gitlab.packages.transport import get_slice
from mlflow_gitlab.settings import TransferSettings

RUN_FILES_PREFIX = "candidate:"  # how a run's own package is named, as a version's source


class SourceFiles(Protocol):
    """Files a release can copy from."""

    @property
    def label(self) -> str:
        """Recorded on the version: `<name>/<version>`, or `candidate:<iid>` for run files."""

    @property
    def paths(self) -> tuple[str, ...]:
        """Every file's path (`/`-separated)."""

    def read_text(self, path: str) -> str:
        """One small file (an `MLmodel`) as text.

        Raises:
            PackageDownloadError, GitLabAPIError, ConfigError: it cannot be read.
        """

    def fetch(self, paths: Iterable[str], dest: Path) -> list[FileEntry]:
        """Download `paths` under `dest` (`dest/<path>`); their entries, SHA-256 included.

        Raises:
            PackageDownloadError, GitLabAPIError, ConfigError: a file could not be fetched.
        """


@dataclass(frozen=True)
class OutputsPackage:
    """A run's generic outputs package, read through its manifest."""

    client: GitLabClient
    manifest: Manifest
    transfer: TransferSettings

    @property
    def label(self) -> str:
        return f"{self.manifest.package}/{self.manifest.version}"

    @property
    def paths(self) -> tuple[str, ...]:
        return tuple(entry.path for entry in self.manifest.files)

    def read_text(self, path: str) -> str:
        entry = next(e for e in self.manifest.files if e.path == path)
        what = f"download {path} of package {self.manifest.package} {self.manifest.version}"
        body = b""
        for part in entry.parts:
            url = file_url(self.client, self.manifest.package, self.manifest.version,
                           part.name)
            body += self.client.check(self.client.session.get(url), what).content
        if hashlib.sha256(body).hexdigest() != entry.sha256:
            raise PackageDownloadError(f"cannot {what}: its bytes do not match the manifest")
        return _text(body)

    def fetch(self, paths: Iterable[str], dest: Path) -> list[FileEntry]:
        wanted = set(paths)
        download_package(self.client, self.manifest.package, self.manifest.version, dest,
                         transfer=self.transfer, paths=wanted)
        return [entry for entry in self.manifest.files if entry.path in wanted]


@dataclass(frozen=True)
class RunFiles:
    """A run's own `ml_model` candidate package; `client` is for the tracking project and
    sends the tracking token as `Authorization: Bearer`."""

    client: GitLabClient
    ref: str  # `candidate:<iid>`
    paths: tuple[str, ...]
    transfer: TransferSettings

    @property
    def label(self) -> str:
        return self.ref

    def read_text(self, path: str) -> str:
        what = f"download {path} of the files of run {self.ref}"
        response = self.client.session.get(ml_model_file_url(self.client, self.ref, path))
        if response.status_code == 404:
            raise PackageDownloadError(f"cannot {what}: there is no such file")
        return _text(self.client.check(response, what).content)

    def fetch(self, paths: Iterable[str], dest: Path) -> list[FileEntry]:
        stop = threading.Event()

        def one(path: str) -> FileEntry:
            target = destination(dest, path)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(b"")
            digest = get_slice(self.client, ml_model_file_url(self.client, self.ref, path),
                               target, 0, None, None, hashlib.sha256(), no_progress, stop,
                               f"download {path} of the files of run {self.ref}")
            sha256, size = digest.hexdigest() if digest else "", target.stat().st_size
            return FileEntry(path, size, sha256, (Part(path, size, sha256),))

        return in_parallel(one, list(paths), self.transfer.parallel, stop)


def list_run_files(client: GitLabClient, ref: str) -> tuple[str, ...]:
    """The paths of the files in run package `ref` (none when nothing was uploaded).

    Raises:
        ReleaseError: this GitLab cannot list a run's files (its artifact route came in 17.9).
        GitLabAPIError, ConfigError: GitLab refused the listing.
    """
    url = f"{client.project_url}/ml/mlflow/api/2.0/mlflow-artifacts/artifacts"
    response = client.session.get(url, params={"path": ref})
    if response.status_code == 404 and _mlflow_error(response) == "RESOURCE_DOES_NOT_EXIST":
        return ()  # no package yet: GitLab creates it on the first upload
    if response.status_code == 404 and "Project" not in gitlab_message(response):
        raise ReleaseError("this GitLab cannot list a run's files (it has no MLflow artifact "
                           "route, added in GitLab 17.9)", hint="upload the model with "
                           "`mlflow-gitlab run --artifacts` (or `upload`) to release it")
    client.check(response, f"list the files of run {ref}")
    files = read_json(response, dict).get("files") or []
    if not isinstance(files, list) or not all(isinstance(f, dict) for f in files):
        raise unexpected(response, "no list of files")
    return stored_paths(files)


def stored_paths(listed: Iterable[Mapping[str, object]]) -> tuple[str, ...]:
    """The paths in the artifact proxy's flat list of stored names (`model%2FMLmodel`),
    each once (a file uploaded again is listed again; GitLab serves the newest)."""
    return tuple(sorted({unquote(str(item.get("path", ""))) for item in listed
                         if not item.get("is_dir") and item.get("path")}))


def ml_model_file_url(client: GitLabClient, ref: str, path: str) -> str:
    """The URL of file `path` in `ml_model` package `ref` (a version id or
    `candidate:<iid>`), as GitLab's package-file routes take it."""
    return (f"{client.project_url}/packages/ml_models/{quote(ref, safe=':')}/files/"
            f"{url_path(path)}")


def no_progress(_: int) -> None:
    """Progress callback: release transfers show no byte progress of their own."""


def _mlflow_error(response: requests.Response) -> str | None:
    body = json_or_none(response)
    return body.get("error_code") if isinstance(body, dict) else None


def _text(body: bytes) -> str:
    return body.decode("utf-8", errors="replace")  # not UTF-8: the YAML parse says so
