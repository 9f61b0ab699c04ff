"""Upload files to a generic package: streamed, verified, parallel, resumable, manifest last.

Files already stored under the same name with the same SHA-256 are skipped, so re-running
an interrupted upload sends only what is missing. The manifest goes up only after every
file did, so a package without one (or with an older one) is visibly incomplete; a later
upload adds to the manifest it finds rather than replacing it.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from mlflow_gitlab.errors import DuplicateRefused, PackageUploadError
from mlflow_gitlab.gitlab_api import GitLabClient, gitlab_message
from mlflow_gitlab.packages.download import fetch_manifest
from mlflow_gitlab.packages.manifest import FileEntry, Manifest, Part
from mlflow_gitlab.packages.merge import check_additions, merged
from mlflow_gitlab.packages.naming import MANIFEST, check_package
from mlflow_gitlab.packages.parallel import in_parallel
from mlflow_gitlab.packages.progress import Progress
from mlflow_gitlab.packages.sources import PlannedFile, PlannedPart, plan_files
from mlflow_gitlab.packages.stored import StoredPackage, stored_package
from mlflow_gitlab.packages.transport import (
    DUPLICATE,
    Hash,
    file_url,
    hash_slice,
    put_slice,
)
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
                 follow_symlinks: bool = False, replace: bool = False) -> UploadResult:
    """Upload `paths` (files and folders) to generic package `package` `version`.

    A package that already has a manifest keeps what it lists: the upload adds its files
    (`merge.py`).

    Args:
        client: the project's GitLab client.
        package: the package name (GitLab's rules; refused, not changed, when invalid).
        version: the package version (same).
        paths: files and folders; folders keep their name and inner paths.
        transfer: parallel files and the server's per-file limit (larger files are split).
        progress: told about files and bytes as they move.
        follow_symlinks: upload what a symlink in a folder points to even outside the folder
            (refused otherwise, before anything is sent).
        replace: a path the manifest already lists with other content is replaced
            (refused otherwise, before anything is sent).

    Returns:
        The manifest uploaded last, its URL, and how many files were sent or skipped.

    Raises:
        InvalidPackageName: a name is invalid or two files map to one name (nothing sent).
        PackageUploadError: a file cannot be read or was stored wrong, a symlink leads out
            of its folder, a path is already there with other content, GitLab refuses a
            file as too large or as a duplicate, or another upload changed the manifest
            at the same time.
        GitLabAPIError, ConfigError: GitLab refused or stayed unavailable past the retries.
    """
    check_package(package, version)
    transfer = transfer or TransferSettings()
    progress = progress or Progress()
    planned = plan_files(paths, transfer.max_file_size, follow_symlinks=follow_symlinks)
    stored = stored_package(client, package, version)
    base = _existing_manifest(client, package, version, stored)
    check_additions(base, planned, replace=replace)
    progress.start("uploading", len(planned), sum(f.size for f in planned))
    stop = threading.Event()

    def send(file: PlannedFile) -> tuple[FileEntry, bool]:
        return _send_file(client, package, version, file, stored, progress, stop,
                          transfer.max_file_size)

    # Concurrent uploads that create the same new package can race and fail with a 500:
    # a new package gets its smallest file first, alone.
    first = None if stored.exists else min(planned, key=lambda f: f.size)
    try:
        results = in_parallel(send, planned, transfer.parallel, stop, first=first)
    finally:
        progress.finish()
    added = [e for e, _ in results]
    manifest, url = _publish_manifest(client, package, version, stored, base, added, replace)
    sent = sum(1 for _, skipped in results if not skipped)
    return UploadResult(manifest, url, sent, len(results) - sent)


def _existing_manifest(client: GitLabClient, package: str, version: str,
                       stored: StoredPackage) -> Manifest | None:
    """The manifest the package holds now, or None when it has none."""
    return fetch_manifest(client, package, version) if MANIFEST in stored.files else None


def _publish_manifest(client: GitLabClient, package: str, version: str, stored: StoredPackage,
                      base: Manifest | None, added: list[FileEntry], replace: bool
                      ) -> tuple[Manifest, str]:
    """Upload the merged manifest, unless GitLab already holds it; refuse to lose entries.

    A manifest written by another upload since `base` was read is merged in first; one
    written while this one goes up cannot be merged (GitLab has no conditional write), so
    it is reported, and running both uploads again repairs the manifest.
    """
    url = file_url(client, package, version, MANIFEST)
    what = f"upload {MANIFEST} to package {package} {version}"
    base_ids = stored.files[MANIFEST].ids if MANIFEST in stored.files else ()
    now = stored_package(client, package, version)
    if MANIFEST in now.files and now.files[MANIFEST].ids != base_ids:
        base = fetch_manifest(client, package, version)  # another upload finished meanwhile
        _check_entries(base, added, replace)
        base_ids = now.files[MANIFEST].ids
    manifest = merged(base, package, version, added)
    body = manifest.to_bytes()
    digest = hashlib.sha256(body).hexdigest()
    have = now.files.get(MANIFEST)
    if have is not None and have.sha256 == digest:
        return manifest, url
    response = client.session.put(url, data=body)
    if response.status_code == 400 and DUPLICATE in gitlab_message(response):
        have = stored_package(client, package, version).files.get(MANIFEST)
        if have is not None and have.sha256 == digest:
            return manifest, url  # an attempt whose answer was lost stored it
        raise PackageUploadError(
            f"the files went up, but GitLab refuses a second {MANIFEST} in package {package} "
            f"{version} ({DUPLICATE!r}): its manifest still lists only the earlier upload's",
            hint="this group does not allow duplicate generic packages: upload to a new "
                 "version, or allow duplicates in the group's package settings")
    client.check(response, what)
    after = stored_package(client, package, version).files.get(MANIFEST)
    # Manifests stored since `base` other than this one (a retried attempt whose answer was
    # lost stored the same bytes) were written by another upload at the same time.
    others = [i for i, sha256 in (after.versions if after else ())
              if i not in base_ids and sha256 != digest]
    if others:
        raise PackageUploadError(
            f"another upload to package {package} {version} wrote its {MANIFEST} at the same "
            "time: one of the two manifests may lack the other's files",
            hint="run both uploads again, one after the other: stored files are skipped and "
                 "the manifest then lists every file")
    return manifest, url


def _check_entries(base: Manifest, added: list[FileEntry], replace: bool) -> None:
    """Refuse entries that a manifest written meanwhile lists with other content."""
    if replace:
        return
    old = {e.path: e.sha256 for e in base.files}
    for entry in added:
        if old.get(entry.path, entry.sha256) != entry.sha256:
            raise PackageUploadError(
                f"another upload stored {entry.path!r} in package {base.package} "
                f"{base.version} with other content meanwhile; the manifest is unchanged",
                hint="pass --replace to keep this upload's file, or upload it again")


def _send_file(client: GitLabClient, package: str, version: str, file: PlannedFile,
               stored: StoredPackage, progress: Progress, stop: threading.Event,
               known_limit: int) -> tuple[FileEntry, bool]:
    """Upload (or skip) each part of `file` in order; return its entry and whether skipped."""
    split = len(file.parts) > 1
    whole = hashlib.sha256() if split else None
    parts, skipped = [], True
    for part in file.parts:
        digest, running = _stored_digest(file, part, stored, whole, progress, stop)
        if digest is None:
            skipped = False
            what = f"upload {part.name} to package {package} {version}"
            try:
                digest, running = put_slice(client, file_url(client, package, version,
                                                             part.name),
                                            file.source, part.offset, part.length, whole,
                                            progress.advance, stop, what, known_limit)
            except DuplicateRefused as refused:
                digest, running = _already_stored(client, package, version, file, part,
                                                  whole, progress, stop, refused)
        parts.append(Part(part.name, part.length, digest))
        whole = running
    sha256 = whole.hexdigest() if whole is not None else parts[0].sha256
    progress.file_done(file.path, file.size, skipped=skipped)
    return FileEntry(file.path, file.size, sha256, tuple(parts)), skipped


def _already_stored(client: GitLabClient, package: str, version: str, file: PlannedFile,
                    part: PlannedPart, whole: Hash | None, progress: Progress,
                    stop: threading.Event, refused: DuplicateRefused
                    ) -> tuple[str, Hash | None]:
    """After GitLab refused a duplicate: done if the stored file holds these very bytes (an
    earlier attempt or upload stored it), else an error naming the group setting."""
    progress.advance(-part.length)  # hashed again below
    digest = hashlib.sha256()
    running = whole.copy() if whole is not None else None
    hash_slice(file.source, part.offset, part.length,
               [digest] if running is None else [digest, running], progress.advance, stop)
    have = stored_package(client, package, version).files.get(part.name)
    if have is not None and have.sha256 == digest.hexdigest():
        return digest.hexdigest(), running
    raise PackageUploadError(
        f"package {package} {version} already holds a different {part.name!r}, and GitLab "
        f"refuses another ({DUPLICATE!r})",
        hint="this group does not allow duplicate generic packages: upload to a new version, "
             "or allow duplicates in the group's package settings") from refused


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
