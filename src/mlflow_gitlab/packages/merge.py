"""Adding an upload to a package that already has a manifest: keep what it lists, add the rest.

A later upload to the same package version adds its files to the manifest. A path the
manifest already lists with the same SHA-256 stays as it is; with other content (or a path
that is a folder of the other's, `a` and `a/b`) the upload is refused before anything is
sent, unless `replace` is given, and then the new file takes the old one's place.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable

from mlflow_gitlab.errors import InvalidPackageName, PackageUploadError
from mlflow_gitlab.packages.manifest import FileEntry, Manifest
from mlflow_gitlab.packages.naming import shown_path
from mlflow_gitlab.packages.sources import PlannedFile
from mlflow_gitlab.packages.transport import CHUNK

LocalDigest = Callable[[PlannedFile], str]


def local_sha256(file: PlannedFile) -> str:
    """The SHA-256 of a local file, read in chunks."""
    digest = hashlib.sha256()
    with file.source.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def check_additions(existing: Manifest | None, planned: Iterable[PlannedFile], *,
                    replace: bool, digest: LocalDigest = local_sha256) -> None:
    """Refuse, before anything is sent, an upload that would change what `existing` lists.

    Raises:
        PackageUploadError: without `replace`, a path is listed with other content, or
            clashes with a listed path (one is a folder of the other).
        InvalidPackageName: a new file would be stored under a package file name a kept
            entry uses.
    """
    if existing is None:
        return
    old = {e.path: e for e in existing.files}
    planned = list(planned)
    new_paths = {f.path for f in planned}
    for file in planned:
        entry = old.get(file.path)
        if entry is not None:
            if entry.size == file.size and entry.sha256 == digest(file):
                continue
            if not replace:
                raise PackageUploadError(
                    f"package {existing.package} {existing.version} already holds "
                    f"{shown_path(file.path)} with other content; nothing was uploaded",
                    hint="pass --replace to put this file in its place, or upload it under "
                         "another name")
        clash = _folder_clash(file.path, old)
        if clash is not None and not replace:
            raise PackageUploadError(
                f"{shown_path(file.path)} and {shown_path(clash)}, already in package "
                f"{existing.package} {existing.version}, cannot both be there (one is a "
                "folder of the other); nothing was uploaded",
                hint="pass --replace to drop the earlier one, or upload under another name")
    kept = [e for e in existing.files if not _replaced(e.path, new_paths)]
    used = {p.name: e.path for e in kept for p in e.parts}
    for file in planned:
        for part in file.parts:
            if part.name in used and used[part.name] != file.path:
                raise InvalidPackageName(
                    f"{shown_path(file.path)} would be stored as {part.name!r}, which "
                    f"{shown_path(used[part.name])} in package {existing.package} "
                    f"{existing.version} already uses; nothing was uploaded",
                    hint="rename it: package file names allow only letters, digits and "
                         ". _ - +, other characters become _")


def merged(existing: Manifest | None, package: str, version: str,
           added: Iterable[FileEntry]) -> Manifest:
    """The manifest after an upload: `existing`'s entries that `added` does not replace
    (same path, or a folder clash), and `added`, sorted by path."""
    added = list(added)
    new_paths = {e.path for e in added}
    kept = [] if existing is None else [e for e in existing.files
                                        if not _replaced(e.path, new_paths)]
    return Manifest(package, version, tuple(sorted((*kept, *added), key=lambda e: e.path)))


def lost_entries(before: Manifest, after: Manifest) -> list[str]:
    """Paths `before` lists that `after` does not list with the same SHA-256."""
    now = {e.path: e.sha256 for e in after.files}
    return [e.path for e in before.files if now.get(e.path) != e.sha256]


def _replaced(path: str, new_paths: set[str]) -> bool:
    """`path` is given again, or is a folder of a new path, or a new path is its folder."""
    if path in new_paths:
        return True
    return any(_nested(path, other) or _nested(other, path) for other in new_paths)


def _folder_clash(path: str, old: dict[str, FileEntry]) -> str | None:
    for other in old:
        if _nested(path, other) or _nested(other, path):
            return other
    return None


def _nested(inner: str, outer: str) -> bool:
    return inner.startswith(outer + "/")
