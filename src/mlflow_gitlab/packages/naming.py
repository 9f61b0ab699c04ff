"""GitLab's naming rules for packages: check names, map file paths, refuse the rest.

Package names and versions are the user's choice, so a bad one is refused with a message,
never silently changed. File paths come from a folder and may hold any character, so each
segment is mapped to GitLab's file-name alphabet; the manifest keeps the original path.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import quote

from mlflow_gitlab.errors import ConfigError, InvalidPackageName

# Reference §15.1 / §16.1 (`generic_package_name_regex`, `maven_version_regex`); Ruby's \w
# is ASCII and \z is the end of the string: hence re.ASCII and fullmatch.
NAME = re.compile(r"[A-Za-z0-9._+-]+")
VERSION = re.compile(r"(?!.*\.\.)[\w+.-]+", re.ASCII)
_NOT_NAME = re.compile(r"[^A-Za-z0-9._+-]")
# §16.1 `ml_model_name_regex`: model names are ML-model package names. Ruby's atomic groups
# `(?>X)` are written `(?=(?P<g>X))(?P=g)`: the same meaning, and it compiles on Python 3.10.
MODEL_NAME = re.compile(r"@?(?=(?P<head>(?:[\w.+-]*/)*[\w.-]+))(?P=head)"
                        r"@?(?=(?P<tail>(?:[\w.+-]*/)*[\w.-]*))(?P=tail)", re.ASCII)
MAX_LENGTH = 255  # GitLab's column limit for package names and versions, and model names
MANIFEST = "manifest.json"


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
    """Refuse a registered-model name GitLab would reject (reference §4.1, §16.1).

    Raises:
        ConfigError: says which rule is broken and how to fix it.
    """
    hint = "use only letters, digits and . _ - (and / between parts), at most 255 characters"
    if len(name) > MAX_LENGTH:
        raise ConfigError(f"model name {name[:40]!r}... has {len(name)} characters; GitLab "
                          f"allows at most {MAX_LENGTH}", hint=hint)
    if not MODEL_NAME.fullmatch(name):
        raise ConfigError(f"model name {name!r} is not valid on GitLab", hint=hint)


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


def url_path(name: str) -> str:
    """`dir/file` -> `dir/file` with each segment percent-encoded for a URL."""
    return "/".join(quote(segment, safe="") for segment in name.split("/"))


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
