"""A download's staging folder: files land there, and move into the destination only once
every one of them is verified.

The folder sits next to the destination (`.<dest>.mlflow-gitlab-download`; inside it when
its parent cannot be written or is another file system, as for a mounted volume), so the
final moves are renames.
A failed download removes it, and the folders it created for the destination, so nothing is
left behind; a killed one leaves it, and the next download into the same destination keeps
the verified files it finds there.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from mlflow_gitlab.errors import PackageDownloadError
from mlflow_gitlab.packages.manifest import destination

_SUFFIX = ".mlflow-gitlab-download"


class Staging:
    """Where the files of one download wait, and how they move into `dest`."""

    def __init__(self, dest: Path) -> None:
        self.dest = dest
        self.root = dest  # until `open`
        self._made: list[Path] = []  # folders made for `dest` itself, deepest last

    def open(self) -> None:
        """Create the destination's missing folders and the staging folder.

        Raises:
            PackageDownloadError: a folder cannot be created, or a staging folder in the
                way is not a folder of ours.
        """
        try:
            missing = [p for p in (self.dest, *self.dest.parents) if not p.exists()]
            for folder in reversed(missing):
                folder.mkdir()
                self._made.append(folder)
            name = self.dest.absolute().name or "download"
            self.root = self.dest.absolute().parent / f".{name}{_SUFFIX}"
            try:
                self._make_root()
                beside = self.root.stat().st_dev == self.dest.stat().st_dev
            except PermissionError:
                beside = False
            if not beside:  # a rename across file systems is a copy: stage inside instead
                if self.root.is_dir() and not any(self.root.iterdir()):
                    self.root.rmdir()
                self.root = self.dest / _SUFFIX
                self._make_root()
        except PackageDownloadError:
            self.discard()
            raise
        except OSError as exc:
            self.discard()
            raise PackageDownloadError(f"cannot write into {self.dest}: "
                                       f"{exc.strerror or exc}") from exc

    def path(self, relative: str) -> Path:
        """Where file `relative` (a manifest path) is staged; its folder exists."""
        staged = destination(self.root, relative)
        staged.parent.mkdir(parents=True, exist_ok=True)
        return staged

    def commit(self, moves: list[tuple[Path, Path]]) -> None:
        """Move each staged file onto its target, then remove the staging folder."""
        try:
            for staged, target in moves:
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(staged, target)
        except OSError as exc:
            raise PackageDownloadError(f"cannot move {target} into place: "
                                       f"{exc.strerror or exc}") from exc
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def discard(self) -> None:
        """Remove the staging folder, and the destination's folders if this download made
        them (and they are still empty)."""
        if self.root != self.dest:
            shutil.rmtree(self.root, ignore_errors=True)
        for folder in reversed(self._made):
            try:
                folder.rmdir()
            except OSError:
                break

    def _make_root(self) -> None:
        self.root.mkdir(mode=0o700, exist_ok=True)
        if self.root.is_symlink() or not self.root.is_dir():
            raise PackageDownloadError(f"{self.root} is in the way of the download: it is not "
                                       "a folder", hint="remove it, or download elsewhere")
