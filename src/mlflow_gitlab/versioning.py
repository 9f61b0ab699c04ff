"""Semver policy for model versions: the SemVer value, bump overrides and the next version.

Pure: no network, no mlflow. The signature comparison that proposes a bump lives in
`signatures.py`; this module decides which proposal wins and what the version string is.
"""

from __future__ import annotations

import enum
import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass

import semver

from mlflow_gitlab.errors import ConfigError, InvalidVersion

LABEL_SCOPE = "model::"  # a scoped label: GitLab keeps at most one `model::*` label on an MR
TRAILER = "Model-Bump"
_TRAILER_LINE = re.compile(rf"^{TRAILER}:[ \t]*(?P<value>\S*)[ \t]*$", re.IGNORECASE | re.M)
_PRERELEASE = re.compile(r"\Amr\.(?P<iid>[1-9]\d*)\.(?P<n>[1-9]\d*)\Z")


class Bump(str, enum.Enum):
    """How much a version moves; members compare by size (PATCH < MINOR < MAJOR)."""

    PATCH = "patch"
    MINOR = "minor"
    MAJOR = "major"

    @property
    def rank(self) -> int:
        return (Bump.PATCH, Bump.MINOR, Bump.MAJOR).index(self)

    @classmethod
    def parse(cls, value: str, where: str) -> Bump:
        """The bump named `value` (any case); `where` names its origin in the error.

        Raises:
            ConfigError: `value` is not major, minor or patch.
        """
        try:
            return cls(value.strip().lower())
        except ValueError:
            raise ConfigError(f"{where} {value!r} is not major, minor or patch",
                              hint="use one of major, minor, patch") from None


@functools.total_ordering
@dataclass(frozen=True)
class SemVer:
    """A semantic version as GitLab's model registry accepts it."""

    value: semver.Version

    @classmethod
    def parse(cls, text: str) -> SemVer:
        """Parse `1.2.3`, `1.2.3-mr.4.1`; no `v` prefix, no leading zeros.

        Raises:
            InvalidVersion: `text` is not a semantic version.
        """
        try:
            return cls(semver.Version.parse(text.strip()))
        except (ValueError, TypeError):
            raise InvalidVersion(f"{text!r} is not a semantic version (MAJOR.MINOR.PATCH)",
                                 hint="for example 1.0.0 or 0.1.0") from None

    @classmethod
    def maybe(cls, text: str | None) -> SemVer | None:
        """Parse `text`, or None when it is missing or not a semantic version."""
        try:
            return cls.parse(text) if text else None
        except InvalidVersion:
            return None

    @property
    def is_prerelease(self) -> bool:
        return self.value.prerelease is not None

    @property
    def prerelease(self) -> str | None:
        return self.value.prerelease

    @property
    def core(self) -> SemVer:
        """MAJOR.MINOR.PATCH without prerelease or build."""
        return SemVer(self.value.finalize_version())

    def bump(self, kind: Bump) -> SemVer:
        """The next release of `kind` after this one (bumped from MAJOR.MINOR.PATCH)."""
        core = self.value.finalize_version()
        step = {Bump.MAJOR: core.bump_major, Bump.MINOR: core.bump_minor,
                Bump.PATCH: core.bump_patch}[kind]
        return SemVer(step())

    def with_prerelease(self, prerelease: str) -> SemVer:
        return SemVer(self.value.replace(prerelease=prerelease, build=None))

    def __str__(self) -> str:
        return str(self.value)

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, SemVer):
            return NotImplemented
        return self.value < other.value


@dataclass(frozen=True)
class BumpDecision:
    """The bump to apply and why (`source` names what decided it)."""

    bump: Bump
    source: str
    reasons: tuple[str, ...] = ()

    def __str__(self) -> str:
        """`minor bump (signature: new optional input 'age')`."""
        why = f"{self.source}: {'; '.join(self.reasons)}" if self.reasons else self.source
        return f"{self.bump.value} bump ({why})"


def bump_from_labels(labels: Iterable[str]) -> tuple[Bump, str] | None:
    """The `model::major|minor|patch` label's bump and the label, or None.

    GitLab keeps one label per scope, but labels created outside the scope rules may coexist:
    the largest wins.

    Raises:
        ConfigError: a `model::` label names no bump kind.
    """
    found = [(Bump.parse(label[len(LABEL_SCOPE):], "label"), label.strip())
             for label in labels if label.strip().lower().startswith(LABEL_SCOPE)]
    return max(found, key=lambda pair: pair[0].rank, default=None)


def bump_from_trailer(message: str | None) -> Bump | None:
    """The `Model-Bump: <kind>` line of a commit message (the last one wins), or None.

    Any line counts, not only git's final trailer block: GitLab's merge-commit template puts
    "See merge request ..." after the MR description the trailer was written in.

    Raises:
        ConfigError: the trailer names no bump kind.
    """
    values = [m["value"] for m in _TRAILER_LINE.finditer(message or "")]
    return Bump.parse(values[-1], f"commit trailer {TRAILER}:") if values else None


def override_bump(requested: str, labels: Iterable[str], commit_message: str | None
                  ) -> tuple[Bump, str] | None:
    """The bump people asked for, and where: `--bump KIND`, an MR label, a commit trailer.

    Args:
        requested: "auto" or a bump kind given on the command line.
        labels: the MR's labels (CI_MERGE_REQUEST_LABELS).
        commit_message: CI_COMMIT_MESSAGE, searched for a `Model-Bump:` trailer.

    Returns:
        The first of them that is set, or None (the signature decides).

    Raises:
        ConfigError: an override that is consulted names no bump kind.
    """
    if requested.lower() != "auto":
        return Bump.parse(requested, "--bump"), "--bump"
    label = bump_from_labels(labels)
    if label is not None:
        return label[0], f"label {label[1]}"
    trailer = bump_from_trailer(commit_message)
    if trailer is not None:
        return trailer, f"commit trailer {TRAILER}"
    return None


def decide_bump(requested: str, labels: Iterable[str], commit_message: str | None,
                proposed: Bump, reasons: Iterable[str] = ()) -> BumpDecision:
    """`override_bump(...)` when set, else `proposed` (the signature comparison's bump).

    `reasons` (why `proposed`) are kept on the decision whatever wins.
    """
    override = override_bump(requested, labels, commit_message)
    bump, source = override or (proposed, "signature")
    return BumpDecision(bump, source, tuple(reasons))


def latest_release(versions: Iterable[SemVer]) -> SemVer | None:
    """The highest version that is not a prerelease."""
    return max((v for v in versions if not v.is_prerelease), default=None)


def next_release(latest: SemVer | None, bump: Bump, initial: SemVer) -> SemVer:
    """`latest` bumped by `bump`, or `initial` when nothing was released yet."""
    return initial if latest is None else latest.bump(bump)


def prerelease_of(release: SemVer, mr_iid: int, existing: Iterable[SemVer]) -> SemVer:
    """`X.Y.Z-mr.<iid>.<n>`: the next candidate of `release` from merge request `mr_iid`.

    `n` counts up from 1 per release and merge request, so prereleases sort in creation order.
    """
    taken = [int(m["n"]) for v in existing
             if v.core == release and v.prerelease
             and (m := _PRERELEASE.match(v.prerelease)) and int(m["iid"]) == mr_iid]
    return release.with_prerelease(f"mr.{mr_iid}.{max(taken, default=0) + 1}")
