"""The manifest: what a complete package holds (path, size, sha256 per file, and its parts).

Uploaded last, it tells a complete upload from a partial one. A file larger than the
server's per-file limit is stored as parts, listed in order; a download fetches them,
checks each, and reassembles the file. Every path is checked before anything is written.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlflow_gitlab.errors import InvalidPackageName, PackageDownloadError
from mlflow_gitlab.packages.naming import (
    MANIFEST,
    check_package,
    check_remote_name,
    path_problem,
    shown_path,
)

FORMAT = "mlflow-gitlab/manifest"
FORMAT_VERSION = 1
_SHA256 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class Part:
    """One stored package file: all of a file, or one slice of a split file."""

    name: str  # the package file name, `/`-separated (`outputs/model.pt.part0001`)
    size: int
    sha256: str


@dataclass(frozen=True)
class FileEntry:
    """One local file: its original relative path and the package files that hold it."""

    path: str
    size: int
    sha256: str
    parts: tuple[Part, ...]

    @property
    def split(self) -> bool:
        return len(self.parts) > 1

    def as_json(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"path": self.path, "size": self.size, "sha256": self.sha256}
        if self.split:
            entry["parts"] = [vars(p).copy() for p in self.parts]
        else:
            entry["name"] = self.parts[0].name
        return entry


@dataclass(frozen=True)
class Manifest:
    """The files of one package version, sorted by path."""

    package: str
    version: str
    files: tuple[FileEntry, ...]

    @property
    def total_size(self) -> int:
        return sum(f.size for f in self.files)

    def to_bytes(self) -> bytes:
        data = {"format": FORMAT, "format_version": FORMAT_VERSION,
                "package": {"name": self.package, "version": self.version},
                "files": [f.as_json() for f in self.files]}
        return (json.dumps(data, indent=2, sort_keys=True) + "\n").encode()

    @classmethod
    def from_bytes(cls, raw: bytes) -> Manifest:
        """Parse and check a manifest: shape, names, sizes, digests and safe paths.

        Raises:
            PackageDownloadError: the manifest is malformed or names an unsafe path.
        """
        try:
            data = json.loads(raw)
            if data.get("format") != FORMAT:
                raise ValueError("not an mlflow-gitlab manifest")
            if data.get("format_version") != FORMAT_VERSION:
                raise ValueError(f"format_version {data.get('format_version')!r} is unknown "
                                 "(upgrade mlflow-gitlab)")
            package = data["package"]
            check_package(package["name"], package["version"])
            files = tuple(_entry(item) for item in data["files"])
        except (ValueError, KeyError, TypeError, AttributeError, InvalidPackageName) as exc:
            raise PackageDownloadError(f"{MANIFEST} is invalid: {exc}") from exc
        _check_layout(files)
        return cls(package["name"], package["version"], files)


def plan_parts(size: int, max_file_size: int) -> list[tuple[int, int]]:
    """(offset, length) of each part of a `size`-byte file, none above `max_file_size`.

    A file within the limit (or any file when the limit is 0) is one part; an empty file
    is one empty part.
    """
    if not max_file_size or size <= max_file_size:
        return [(0, size)]
    return [(offset, min(max_file_size, size - offset))
            for offset in range(0, size, max_file_size)]


def check_path(path: str) -> None:
    """Refuse a manifest path that could write outside the destination folder, or that no
    file system could hold (`naming.path_problem`, the rule uploads follow too).

    Raises:
        PackageDownloadError: the path is unsafe; the hint says why.
    """
    problem = path_problem(path) if isinstance(path, str) else "it is not a string"
    if problem is not None:
        raise PackageDownloadError(
            f"{MANIFEST} lists an unsafe path {shown_path(str(path))}; nothing was downloaded",
            hint=f"{problem}: the package was not written by mlflow-gitlab, or was "
                 "tampered with")


def destination(dest: Path, path: str) -> Path:
    """Where `path` goes under `dest`, refusing anything that resolves outside `dest`.

    Symlinks already in `dest` are followed, so a link pointing out of it is refused too.

    Raises:
        PackageDownloadError: the path is unsafe.
    """
    check_path(path)
    target = dest.joinpath(*path.split("/"))
    if not target.resolve().is_relative_to(dest.resolve()):
        raise PackageDownloadError(f"{path!r} would be written outside {dest} (a symlink?); "
                                   "nothing was downloaded")
    return target


def _entry(item: dict[str, Any]) -> FileEntry:
    path, size, sha256 = item["path"], item["size"], item["sha256"]
    check_path(path)
    if "parts" in item:
        parts = tuple(Part(p["name"], p["size"], p["sha256"]) for p in item["parts"])
    else:
        parts = (Part(item["name"], size, sha256),)
    for part in (*parts, Part("-", size, sha256)):
        if not isinstance(part.size, int) or part.size < 0:
            raise ValueError(f"{path}: size {part.size!r} is not a byte count")
        if not isinstance(part.sha256, str) or not _SHA256.fullmatch(part.sha256):
            raise ValueError(f"{path}: {part.sha256!r} is not a SHA-256 digest")
    for part in parts:
        check_remote_name(part.name)
    if not parts or sum(p.size for p in parts) != size:
        raise ValueError(f"{path}: its parts do not add up to {size} bytes")
    return FileEntry(path, size, sha256, parts)


def _check_layout(files: tuple[FileEntry, ...]) -> None:
    """No path twice, and no path that is also another's folder (`a` and `a/b`)."""
    paths = {f.path for f in files}
    if len(paths) != len(files):
        raise PackageDownloadError(f"{MANIFEST} lists a path twice")
    for path in paths:
        parents = path.split("/")[:-1]
        for i in range(1, len(parents) + 1):
            if "/".join(parents[:i]) in paths:
                raise PackageDownloadError(f"{MANIFEST} lists {path!r} inside a file")
