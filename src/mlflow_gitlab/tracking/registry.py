"""Registered models and model versions in GitLab's model registry, with its quirks.

GitLab answers a model version's database id in `version` and its semver in `aliases[0]`
numbers versions implicitly unless the `gitlab.version` tag says otherwise,
cannot change a version's tags after creation (only its description), and lists every
version, tags included, in `registered-models/get`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from mlflow_gitlab.errors import ReleaseError, TrackingRefused, VersionTaken
from mlflow_gitlab.tags import VERSION_TAG
from mlflow_gitlab.tracking.client import JSON, MlflowAPI
from mlflow_gitlab.versioning import SemVer

_TAKEN = "Version has already been taken"


@dataclass(frozen=True)
class ModelVersion:
    """One version as GitLab stores it."""

    name: str
    id: str  # GitLab's instance-wide database id: what the `ml_models/:id/files` routes take
    semver: SemVer | None  # None for a version whose number is not semver (never ours)
    tags: Mapping[str, str] = field(default_factory=dict)
    description: str = ""
    web_url: str = ""  # the version's page in GitLab's UI (`source`)
    created: int | None = None  # `creation_timestamp`: GitLab's is in seconds, not ms

    @property
    def label(self) -> str:
        return f"{self.name} {self.semver or self.id}"


class Registry:
    """The model registry of the project behind one GitLab MLflow endpoint."""

    def __init__(self, api: MlflowAPI) -> None:
        self.api = api

    def ensure_model(self, name: str, description: str = "") -> bool:
        """Create registered model `name` unless it exists; True if this call created it.

        Raises:
            ReleaseError: GitLab refuses the name (every create failure is
                RESOURCE_ALREADY_EXISTS there, so an existing model is checked first).
        """
        if self._model(name) is not None:
            return False
        body = {"name": name, **({"description": description} if description else {})}
        try:  # sent again after a lost answer, it is refused as existing: checked below
            self.api.send("POST", "registered-models/create", body)
            return True
        except TrackingRefused as exc:
            if exc.error_code != "RESOURCE_ALREADY_EXISTS":
                raise
        if self._model(name) is not None:
            return False  # a concurrent release (or an earlier attempt) created it
        raise ReleaseError(f"GitLab refused to create model {name!r}: the name is invalid, or "
                           f"an experiment named [model]{name} exists",
                           hint="use letters, digits and _ . - + (and / between parts)")

    def versions(self, name: str) -> list[ModelVersion]:
        """Every version of model `name` with its tags (none when the model does not exist)."""
        return self.find_versions(name) or []

    def find_versions(self, name: str) -> list[ModelVersion] | None:
        """Every version of model `name` with its tags, or None when there is no such model."""
        model = self._model(name)
        if model is None:
            return None
        # GitLab's `latest_versions` holds all versions, not one per stage
        # (`lib/api/entities/ml/mlflow/registered_model.rb`: `expose :versions`).
        return [_version(mv) for mv in model.get("latest_versions") or [] if mv]

    def create_version(self, name: str, semver: SemVer, tags: Mapping[str, str],
                       description: str) -> ModelVersion:
        """Create version `semver` of model `name` with `tags`, all at once; after an attempt
        that may have worked, the version is looked for by its semver before sending again.

        Raises:
            VersionTaken: `semver` exists already (a concurrent release made it).
        """
        all_tags = {**tags, VERSION_TAG: str(semver)}
        body = {"name": name, "source": "", "description": description,
                "tags": [{"key": k, "value": v} for k, v in all_tags.items()]}

        def find() -> ModelVersion | None:
            found = [v for v in self.versions(name) if v.semver == semver]
            if found and all(found[0].tags.get(k) == v for k, v in all_tags.items()):
                return found[0]
            return None  # none, or a concurrent release's: sending again says it is taken

        def made(answer: JSON) -> ModelVersion:
            self.api.field(answer, "POST model-versions/create", "model_version", "version")
            return _version(answer["model_version"])

        try:
            return self.api.create("model-versions/create", body, find, made)
        except TrackingRefused as exc:
            if _TAKEN in str(exc):
                raise VersionTaken(f"{name} {semver} already exists") from None
            raise

    def set_description(self, version: ModelVersion, description: str) -> None:
        """Replace the description (the one field GitLab can update on a version)."""
        self.api.send("PATCH", "model-versions/update", {
            "name": version.name, "version": str(version.semver), "description": description})

    def _model(self, name: str) -> JSON | None:
        """The registered model's entity, or None when there is none."""
        answer = self.api.find("registered-models/get", {"name": name})
        if answer is None:
            return None
        return self.api.field(answer, "GET registered-models/get", "registered_model")


def _version(mv: Mapping[str, Any]) -> ModelVersion:
    """Our view of a ModelVersion entity: the semver from `aliases[0]`, else the tag."""
    tags = {str(x.get("key")): str(x.get("value")) for x in mv.get("tags") or []}
    aliases = mv.get("aliases") or []
    text = (aliases[0] if aliases else None) or tags.get(VERSION_TAG)
    return ModelVersion(name=str(mv.get("name") or ""), id=str(mv["version"]),
                        semver=SemVer.maybe(text), tags=tags,
                        description=mv.get("description") or "",
                        web_url=mv.get("source") or "", created=_seconds(mv))


def _seconds(mv: Mapping[str, Any]) -> int | None:
    """The version's creation time in seconds (GitLab's unit; MLflow's own is ms)."""
    try:
        value = int(mv.get("creation_timestamp") or 0)
    except (TypeError, ValueError):
        return None
    if value <= 0:
        return None
    return value // 1000 if value > 10**11 else value  # ms from a plain MLflow server
