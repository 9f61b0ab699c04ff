"""Upload files to a generic package: streamed, verified, parallel, resumable, manifest last.

Files already stored under the same name with the same SHA-256 are skipped, so re-running
an interrupted upload sends only what is missing. The manifest goes up only after every
file did, so a package without one (or with an older one) is visibly incomplete.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from mlflow_gitlab.gitlab_api import GitLabClient
from mlflow_gitlab.packages.manifest import FileEntry, Manifest, Part
from mlflow_gitlab.packages.naming import MANIFEST, check_package
from mlflow_gitlab.packages.parallel import in_parallel
from mlflow_gitlab.packages.progress import Progress
from mlflow_gitlab.packages.sources import PlannedFile, PlannedPart, plan_files
from mlflow_gitlab.packages.stored import StoredPackage, stored_package
from mlflow_gitlab.packages.transport import Hash, file_url, hash_slice, put_slice
from mlflow_gitlab.settings import TransferSettings


@dataclass(frozen=True)
class UploadResult:
    """What an upload left on GitLab."""

    manifest: Manifest
    manifest_url: str
    uploaded: int  # files sent (in whole or in part)
    skipped: int  # files already stored with the same SHA-256


def upload_paths(client: GitLabClient, package: str, version: str,
                 paths: Iterable[Path | str], *, transfer: TransferSettings | None = None,
                 progress: Progress | None = None,
                 follow_symlinks: bool = False) -> UploadResult:
    """Upload `paths` (files and folders) to generic package `package` `version`.

    Args:
        client: the project's GitLab client.
        package: the package name (GitLab's rules; refused, not changed, when invalid).
        version: the package version (same).
        paths: files and folders; folders keep their name and inner paths.
        transfer: parallel files and the server's per-file limit (larger files are split).
        progress: told about files and bytes as they move.
        follow_symlinks: upload what a symlink in a folder points to even outside the folder
            (refused otherwise, before anything is sent).

    Returns:
        The manifest uploaded last, its URL, and how many files were sent or skipped.

    Raises:
        InvalidPackageName: a name is invalid or two files map to one name (nothing sent).
        PackageUploadError: a file cannot be read or was stored wrong, or a symlink leads out
            of its folder.
        GitLabAPIError, ConfigError: GitLab refused or stayed unavailable past the retries.
    """
    check_package(package, version)
    transfer = transfer or TransferSettings()
    progress = progress or Progress()
    planned = plan_files(paths, transfer.max_file_size, follow_symlinks=follow_symlinks)
    stored = stored_package(client, package, version)
    progress.start("uploading", len(planned), sum(f.size for f in planned))
    stop = threading.Event()

    def send(file: PlannedFile) -> tuple[FileEntry, bool]:
        return _send_file(client, package, version, file, stored, progress, stop)

    # Concurrent uploads that create the same new package can race and fail with a 500
    # (reference §15.2): a new package gets its smallest file first, alone.
    first = None if stored.exists else min(planned, key=lambda f: f.size)
    try:
        results = in_parallel(send, planned, transfer.parallel, stop, first=first)
    finally:
        progress.finish()
    manifest = Manifest(package, version, tuple(sorted((e for e, _ in results),
                                                       key=lambda e: e.path)))
    url = file_url(client, package, version, MANIFEST)
    body = manifest.to_bytes()
    have = stored.files.get(MANIFEST)
    if have is None or have.sha256 != hashlib.sha256(body).hexdigest():
        client.check(client.session.put(url, data=body),
                     f"upload {MANIFEST} to package {package} {version}")
    sent = sum(1 for _, skipped in results if not skipped)
    return UploadResult(manifest, url, sent, len(results) - sent)


def _send_file(client: GitLabClient, package: str, version: str, file: PlannedFile,
               stored: StoredPackage, progress: Progress, stop: threading.Event
               ) -> tuple[FileEntry, bool]:
    """Upload (or skip) each part of `file` in order; return its entry and whether skipped."""
    split = len(file.parts) > 1
    whole = hashlib.sha256() if split else None
    parts, skipped = [], True
    for part in file.parts:
        digest, running = _stored_digest(file, part, stored, whole, progress, stop)
        if digest is None:
            skipped = False
            what = f"upload {part.name} to package {package} {version}"
            digest, running = put_slice(client, file_url(client, package, version, part.name),
                                        file.source, part.offset, part.length, whole,
                                        progress.advance, stop, what)
        parts.append(Part(part.name, part.length, digest))
        whole = running
    sha256 = whole.hexdigest() if whole is not None else parts[0].sha256
    progress.file_done(file.path, file.size, skipped=skipped)
    return FileEntry(file.path, file.size, sha256, tuple(parts)), skipped


def _stored_digest(file: PlannedFile, part: PlannedPart, stored: StoredPackage,
                   whole: Hash | None, progress: Progress, stop: threading.Event
                   ) -> tuple[str | None, Hash | None]:
    """(SHA-256, advanced whole-file hash) when GitLab already holds this part, else (None, _).

    Only a stored file of the same size is worth hashing the local bytes for.
    """
    have = stored.files.get(part.name)
    if have is None or have.size != part.length or not have.sha256:
        return None, whole
    digest = hashlib.sha256()
    running = whole.copy() if whole is not None else None
    hash_slice(file.source, part.offset, part.length,
               [digest] if running is None else [digest, running], progress.advance, stop)
    if digest.hexdigest() != have.sha256:
        progress.advance(-part.length)  # it is sent after all
        return None, whole
    return have.sha256, running
