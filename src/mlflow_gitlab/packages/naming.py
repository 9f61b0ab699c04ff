"""GitLab's naming rules for packages: check names, map file paths, refuse the rest.

Package names and versions are the user's choice, so a bad one is refused with a message,
never silently changed. File paths come from a folder and may hold any character, so each
segment is mapped to GitLab's file-name alphabet; the manifest keeps the original path.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from mlflow_gitlab.errors import ConfigError, InvalidPackageName

# `lib/gitlab/regex.rb` (`generic_package_name_regex`, `maven_version_regex`); Ruby's \w
# is ASCII and \z is the end of the string: hence re.ASCII and fullmatch.
NAME = re.compile(r"[A-Za-z0-9._+-]+")
VERSION = re.compile(r"(?!.*\.\.)[\w+.-]+", re.ASCII)
_NOT_NAME = re.compile(r"[^A-Za-z0-9._+-]")
# `ml_model_name_regex` (`lib/gitlab/regex.rb`): model names are ML-model package names.
# Ruby's atomic groups `(?>X)` are written `(?=(?P<g>X))(?P=g)`: the same meaning, and it
# compiles on Python 3.10.
MODEL_NAME = re.compile(r"@?(?=(?P<head>(?:[\w.+-]*/)*[\w.-]+))(?P=head)"
                        r"@?(?=(?P<tail>(?:[\w.+-]*/)*[\w.-]*))(?P=tail)", re.ASCII)
MAX_LENGTH = 255  # GitLab's column limit for package names and versions, and model names
MAX_SEGMENT_BYTES = 255  # a file or folder name, in UTF-8: NAME_MAX of Linux and macOS
MANIFEST = "manifest.json"
_DRIVE = re.compile(r"\A[A-Za-z]:")


def check_package(name: str, version: str) -> None:
    """Refuse a package name or version GitLab would reject (with a 400, after the bytes).

    Raises:
        InvalidPackageName: says which rule is broken and how to fix it.
    """
    if not NAME.fullmatch(name) or name in (".", "..") or len(name) > MAX_LENGTH:
        raise InvalidPackageName(
            f"package name {name!r} is not valid on GitLab",
            hint="use only letters, digits and . _ - + (at most 255 characters)")
    if not VERSION.fullmatch(version) or len(version) > MAX_LENGTH:
        raise InvalidPackageName(
            f"package version {version!r} is not valid on GitLab",
            hint="use only letters, digits and . _ - + with no `..` (e.g. 1.2.3 or a run id)")


def check_model_name(name: str) -> None:
    """Refuse a registered-model name GitLab would reject.

    Raises:
        ConfigError: says which rule is broken and how to fix it.
    """
    hint = "use only letters, digits and . _ - (and / between parts), at most 255 characters"
    if len(name) > MAX_LENGTH:
        raise ConfigError(f"model name {name[:40]!r}... has {len(name)} characters; GitLab "
                          f"allows at most {MAX_LENGTH}", hint=hint)
    if not MODEL_NAME.fullmatch(name):
        raise ConfigError(f"model name {name!r} is not valid on GitLab", hint=hint)


def path_problem(path: str) -> str | None:
    """Why relative POSIX `path` cannot be a file of a package, or None when it can.

    The one rule for both sides: upload refuses such a file before sending anything, and
    download refuses a manifest that lists one (it could write outside its folder, or fail
    half-way). The rule is the same on every system, so a package uploaded on one downloads
    on all: no backslash, even where it is an ordinary character.
    """
    if not path:
        return "it is empty"
    if path.startswith("/") or _DRIVE.match(path):
        return "it is absolute"
    control = next((c for c in path if ord(c) < 32 or ord(c) == 127), None)
    if control is not None:
        return f"it has a control character ({control!r})"
    if "\\" in path:
        return "it has a backslash"
    for segment in path.split("/"):
        if segment in ("", ".", ".."):
            return "it has an empty, `.` or `..` part"
        try:
            size = len(segment.encode("utf-8"))
        except UnicodeEncodeError:
            return "it is not valid UTF-8"
        if size > MAX_SEGMENT_BYTES:
            return (f"one of its names has {size} bytes; file systems allow at most "
                    f"{MAX_SEGMENT_BYTES}")
    return None


def shown_path(path: str) -> str:
    """`path` quoted for a message, its middle cut when it is long."""
    if len(path) <= 160:
        return repr(path)
    return f"{path[:60]!r}... ({len(path)} characters)"


def remote_name(path: str) -> str:
    """The package file name for relative POSIX `path`: each segment in GitLab's alphabet.

    Characters outside `[A-Za-z0-9._+-]` become `_`; a segment of only dots (which GitLab
    reads as path traversal) becomes `_`.
    """
    segments = []
    for segment in path.split("/"):
        mapped = _NOT_NAME.sub("_", segment)
        segments.append("_" if set(mapped) <= {"."} else mapped)
    return "/".join(segments)


def check_remote_name(name: str) -> None:
    """Refuse a package file name that is not safe to put in a URL (from a manifest).

    Raises:
        InvalidPackageName: a segment is empty, `.`/`..`, or outside GitLab's alphabet.
    """
    for segment in name.split("/"):
        if not NAME.fullmatch(segment) or set(segment) <= {"."}:
            raise InvalidPackageName(f"package file name {name!r} is not valid on GitLab")


def part_name(name: str, index: int) -> str:
    """The file name of part `index` (from 1) of a file split to fit GitLab's size limit."""
    return f"{name}.part{index:04d}"


def find_collisions(names: Iterable[tuple[str, str]]) -> list[tuple[str, str, str]]:
    """(remote name, first path, second path) for every remote name two paths map to.

    Args:
        names: (remote name, the local path it stands for) pairs.
    """
    seen: dict[str, str] = {}
    clashes = []
    for name, path in names:
        if name in seen:
            clashes.append((name, seen[name], path))
        else:
            seen[name] = path
    return clashes
