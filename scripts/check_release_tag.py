"""Fail unless a release tag (`v1.2.3`, `1.2.3-rc.1`) names the package's own version."""

from __future__ import annotations

import sys
from pathlib import Path

import tomllib
from packaging.version import InvalidVersion, Version

PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"


def tag_matches(tag: str, version: str) -> bool:
    """True when `tag`, without a leading `v`, is `version` (PEP 440 equality, so the
    semver `1.0.0-rc.1` equals `1.0.0rc1`)."""
    try:
        return Version(tag.removeprefix("v")) == Version(version)
    except InvalidVersion:
        return False


def main(argv: list[str]) -> int:
    version = tomllib.loads(PYPROJECT.read_text())["project"]["version"]
    tag = argv[0] if len(argv) == 1 else ""
    if not tag_matches(tag, version):
        print(f"error: tag {tag!r} is not the package version {version} (pyproject.toml)",
              file=sys.stderr)
        return 1
    print(f"tag {tag} is version {version}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
