"""Download a generic package by its manifest: every path checked first, every byte verified.

Nothing is written until the whole manifest has been checked, and nothing is written
outside the destination folder. Files arrive in a staging folder next to the destination
(`staging.py`) and move into place only once every one has matched its size and SHA-256, so
a failed download changes nothing in the destination; a file already present with the same
SHA-256 is kept, and so is one a killed download verified, so an interrupted download resumes.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

from mlflow_gitlab.errors import PackageDownloadError
from mlflow_gitlab.gitlab_api import GitLabClient
from mlflow_gitlab.http import unexpected
from mlflow_gitlab.packages.manifest import FileEntry, Manifest, destination
from mlflow_gitlab.packages.naming import MANIFEST, check_package
from mlflow_gitlab.packages.parallel import in_parallel
from mlflow_gitlab.packages.progress import Progress
from mlflow_gitlab.packages.staging import Staging
from mlflow_gitlab.packages.transport import CHUNK, file_url, get_slice
from mlflow_gitlab.settings import TransferSettings


@dataclass(frozen=True)
class DownloadResult:
    manifest: Manifest
    dest: Path
    downloaded: int
    kept: int  # files already present with the right SHA-256


def download_package(client: GitLabClient, package: str, version: str, dest: Path | str, *,
                     transfer: TransferSettings | None = None,
                     progress: Progress | None = None,
                     paths: Collection[str] | None = None) -> DownloadResult:
    """Download generic package `package` `version` into `dest`, as its manifest lists it.

    Args:
        client: the project's GitLab client.
        package: the package name.
        version: the package version.
        dest: the folder to write into (created if missing).
        transfer: how many files to fetch at once.
        progress: told about files and bytes as they move.
        paths: only these files of the manifest (all when None).

    Returns:
        The manifest and how many files were fetched or already present.

    Raises:
        InvalidPackageName: the name or version is invalid.
        PackageDownloadError: no manifest (an incomplete upload), an unsafe path, or bytes
            that do not match the manifest.
        GitLabAPIError, ConfigError: GitLab refused or stayed unavailable past the retries.
    """
    check_package(package, version)
    transfer = transfer or TransferSettings()
    progress = progress or Progress()
    dest = Path(dest)
    manifest = fetch_manifest(client, package, version)
    entries = [e for e in manifest.files if paths is None or e.path in paths]
    targets = {entry.path: destination(dest, entry.path) for entry in entries}
    try:
        for entry in entries:
            _check_room(dest, entry.path, targets[entry.path])
    except OSError as exc:
        raise PackageDownloadError(f"cannot write into {dest}: {exc.strerror or exc}") from exc
    progress.start("downloading", len(entries), sum(e.size for e in entries))
    staging = Staging(dest)
    staging.open()
    stop = threading.Event()

    def fetch(entry: FileEntry) -> tuple[FileEntry, Path | None]:
        return entry, _fetch_file(client, manifest, entry, targets[entry.path], staging,
                                  progress, stop)

    try:
        results = in_parallel(fetch, entries, transfer.parallel, stop)
        staging.commit([(staged, targets[entry.path]) for entry, staged in results
                        if staged is not None])
        for entry, staged in results:  # only now is any of them in `dest`
            progress.file_done(entry.path, entry.size, skipped=staged is None)
    except BaseException:
        staging.discard()
        raise
    finally:
        progress.finish()
    kept = sum(1 for _, staged in results if staged is None)
    return DownloadResult(manifest, dest, len(results) - kept, kept)


def fetch_manifest(client: GitLabClient, package: str, version: str) -> Manifest:
    """The package's manifest, parsed and checked.

    Raises:
        PackageDownloadError: there is none, or it is malformed or unsafe.
        UnexpectedAnswer: a web page came back instead.
    """
    what = f"download {MANIFEST} of package {package} {version}"
    response = client.session.get(file_url(client, package, version, MANIFEST))
    if response.status_code == 404:
        raise PackageDownloadError(
            f"package {package} {version} has no {MANIFEST}",
            hint="it does not exist, or its upload did not finish: upload it again")
    raw = client.check(response, what).content
    if response.headers.get("Content-Type", "").startswith("text/html"):
        raise unexpected(response, "a web page, not a package file")  # a proxy's or sign-in
    manifest = Manifest.from_bytes(raw)
    if (manifest.package, manifest.version) != (package, version):
        raise PackageDownloadError(f"{MANIFEST} of {package} {version} describes "
                                   f"{manifest.package} {manifest.version}")
    return manifest


def _fetch_file(client: GitLabClient, manifest: Manifest, entry: FileEntry, target: Path,
                staging: Staging, progress: Progress, stop: threading.Event) -> Path | None:
    """Stage `entry`, verified; None when `target` already holds it (nothing to move)."""
    try:
        if _same_file(target, entry):
            progress.advance(entry.size)
            return None
        staged = staging.path(entry.path)
        if _same_file(staged, entry):  # verified by a download that was killed
            progress.advance(entry.size)
            return staged
        staged.write_bytes(b"")
    except OSError as exc:
        raise PackageDownloadError(f"cannot write {target}: {exc.strerror or exc}") from exc
    whole = hashlib.sha256() if entry.split else None
    offset = 0
    try:
        for part in entry.parts:
            what = f"download {part.name} of package {manifest.package} {manifest.version}"
            whole = get_slice(client, file_url(client, manifest.package, manifest.version,
                                               part.name), staged, offset, part.size,
                              part.sha256, whole, progress.advance, stop, what)
            offset += part.size
        if whole is not None and whole.hexdigest() != entry.sha256:
            raise PackageDownloadError(f"{entry.path}: the reassembled parts do not match the "
                                       "manifest's SHA-256")
    except OSError as exc:
        staged.unlink(missing_ok=True)
        raise PackageDownloadError(f"cannot write {target}: {exc.strerror or exc}") from exc
    except BaseException:
        staged.unlink(missing_ok=True)
        raise
    return staged


def _check_room(dest: Path, path: str, target: Path) -> None:
    """Refuse, before anything is fetched, a file whose place in `dest` holds a folder, or
    whose folder is a file there.

    Raises:
        PackageDownloadError: names the path in the way.
    """
    segments = path.split("/")
    for depth in range(1, len(segments)):
        folder = dest.joinpath(*segments[:depth])
        if folder.exists() and not folder.is_dir():
            raise PackageDownloadError(f"cannot download {path!r} into {dest}: "
                                       f"{'/'.join(segments[:depth])} is a file there; nothing "
                                       "was downloaded", hint="move it away, or pick another "
                                       "--dest")
    if target.is_dir():
        raise PackageDownloadError(f"cannot download {path!r} into {dest}: a folder is in its "
                                   "place; nothing was downloaded",
                                   hint="move it away, or pick another --dest")


def _same_file(target: Path, entry: FileEntry) -> bool:
    if not target.is_file() or target.stat().st_size != entry.size:
        return False
    digest = hashlib.sha256()
    with target.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest() == entry.sha256
