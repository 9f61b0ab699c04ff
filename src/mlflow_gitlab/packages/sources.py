"""The local side of an upload: which files, under which paths and names, in which parts.

A file given directly keeps its base name; a folder keeps its own name and its files their
paths inside it (`outputs/model/weights.pt`). Names are checked, mapped and planned before
any byte is sent, so a bad name fails fast.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from mlflow_gitlab.errors import InvalidPackageName, PackageUploadError
from mlflow_gitlab.packages.manifest import plan_parts
from mlflow_gitlab.packages.naming import MANIFEST, find_collisions, part_name, remote_name


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


def plan_files(paths: Iterable[Path | str], max_file_size: int) -> list[PlannedFile]:
    """Walk `paths` and plan each file's package file names and parts.

    Args:
        paths: files and folders to upload.
        max_file_size: the server's per-file limit in bytes (0: none); larger files split.

    Raises:
        PackageUploadError: a path does not exist or holds no file.
        InvalidPackageName: two paths map to one package file name (or to the manifest's).
    """
    planned = []
    for source, path in _walk(paths):
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


def _walk(paths: Iterable[Path | str]) -> list[tuple[Path, str]]:
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
                    if source.is_file():  # skips sockets, FIFOs and dangling links
                        _add(found, source, (Path(root.name) / source.relative_to(root))
                             .as_posix())
        elif given.exists():
            raise PackageUploadError(f"{given} is neither a regular file nor a folder "
                                     "(a pipe or a device cannot be uploaded)")
        else:
            raise PackageUploadError(f"{given}: no such file or folder")
    return sorted(((source, path) for path, source in found.items()), key=lambda x: x[1])


def _add(found: dict[str, Path], source: Path, path: str) -> None:
    if path in found and found[path] != source:
        raise PackageUploadError(f"{found[path]} and {source} would both be stored as {path!r}",
                                 hint="upload them from different folders")
    found[path] = source
