"""The local side of an upload: which files, under which paths and names, in which parts.

A file given directly keeps its base name; a folder keeps its own name and its files their
paths inside it (`outputs/model/weights.pt`). Names are checked, mapped and planned before
any byte is sent, so a bad name fails fast. A symlink in a folder that points outside it is
refused unless asked for (`follow_symlinks`): it would publish a file nobody put there;
links to folders are not followed.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from mlflow_gitlab.errors import InvalidPackageName, PackageUploadError
from mlflow_gitlab.packages.manifest import plan_parts
from mlflow_gitlab.packages.naming import (
    MANIFEST,
    find_collisions,
    part_name,
    path_problem,
    remote_name,
    shown_path,
)


@dataclass(frozen=True)
class PlannedPart:
    name: str
    offset: int
    length: int


@dataclass(frozen=True)
class PlannedFile:
    """A local file, the relative path the manifest records, and the package files for it."""

    source: Path
    path: str
    size: int
    parts: tuple[PlannedPart, ...]


def plan_files(paths: Iterable[Path | str], max_file_size: int, *,
               follow_symlinks: bool = False) -> list[PlannedFile]:
    """Walk `paths` and plan each file's package file names and parts.

    Args:
        paths: files and folders to upload.
        max_file_size: the server's per-file limit in bytes (0: none); larger files split.
        follow_symlinks: upload what a symlink in a folder points to even outside it.

    Raises:
        PackageUploadError: a path does not exist or holds no file, or a symlink in a
            folder points outside it (without `follow_symlinks`).
        InvalidPackageName: two paths map to one package file name (or to the manifest's).
    """
    planned = []
    for source, path in _walk(paths, follow_symlinks):
        problem = path_problem(path)
        if problem is not None:
            raise InvalidPackageName(
                f"{shown_path(path)} cannot be uploaded: {problem}, and downloads refuse such "
                "a file", hint="rename it, or leave it out")
        size = source.stat().st_size
        name = remote_name(path)
        spans = plan_parts(size, max_file_size)
        parts = tuple(PlannedPart(name if len(spans) == 1 else part_name(name, i), offset,
                                  length) for i, (offset, length) in enumerate(spans, 1))
        planned.append(PlannedFile(source, path, size, parts))
    if not planned:
        raise PackageUploadError("nothing to upload: the paths hold no files")
    names = [(MANIFEST, "the manifest")]
    names += [(part.name, f.path) for f in planned for part in f.parts]
    clashes = find_collisions(names)
    if clashes:
        name, first, second = clashes[0]
        raise InvalidPackageName(
            f"{second!r} and {first} would both be stored as {name!r} on GitLab",
            hint="rename one of them: package file names allow only letters, digits and "
                 ". _ - +, other characters become _")
    return planned


def _walk(paths: Iterable[Path | str], follow_symlinks: bool) -> list[tuple[Path, str]]:
    """(file, its relative POSIX path) for every regular file under `paths`, sorted."""
    found: dict[str, Path] = {}
    for given in map(Path, paths):
        if given.is_file():
            _add(found, given, given.resolve().name)
        elif given.is_dir():
            root = given.resolve()
            for folder, dirs, files in os.walk(root):
                dirs.sort()
                for file_name in sorted(files):
                    source = Path(folder, file_name)
                    if not source.is_file():  # skips sockets, FIFOs and dangling links
                        continue
                    if not follow_symlinks:
                        _check_link(given, root, source)
                    _add(found, source, (Path(root.name) / source.relative_to(root))
                             .as_posix())
        elif given.exists():
            raise PackageUploadError(f"{given} is neither a regular file nor a folder "
                                     "(a pipe or a device cannot be uploaded)")
        else:
            raise PackageUploadError(f"{given}: no such file or folder")
    return sorted(((source, path) for path, source in found.items()), key=lambda x: x[1])


def _check_link(given: Path, root: Path, source: Path) -> None:
    """Refuse `source`, found in folder `root` (as given: `given`), when it is a symlink
    leading out of the folder.

    Raises:
        PackageUploadError: names the link as the user knows it, and where it leads.
    """
    if not source.is_symlink():
        return
    target = source.resolve()
    if target.is_relative_to(root):
        return
    shown = given / source.relative_to(root)
    raise PackageUploadError(
        f"{shown} is a symlink to {target}, outside {given}; nothing was uploaded",
        hint="pass --follow-symlinks to upload the file it points to, or remove the link")


def _add(found: dict[str, Path], source: Path, path: str) -> None:
    if path in found and found[path] != source:
        raise PackageUploadError(f"{found[path]} and {source} would both be stored as {path!r}",
                                 hint="upload them from different folders")
    found[path] = source
