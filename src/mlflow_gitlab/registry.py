"""Registered models and model versions in GitLab's model registry, with its quirks.

GitLab answers a model version's database id in `version` and its semver in `aliases[0]`
(reference §9), numbers versions implicitly unless the `gitlab.version` tag says otherwise,
cannot change a version's tags after creation (only its description), and lists every
version, tags included, in `registered-models/get` (§8).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from mlflow.exceptions import RestException
from mlflow.tracking import MlflowClient

from mlflow_gitlab.errors import ReleaseError, VersionTaken
from mlflow_gitlab.settings import TrackingSettings
from mlflow_gitlab.tracking import translate_errors
from mlflow_gitlab.versioning import SemVer

VERSION_TAG = "gitlab.version"  # sets the semver at creation (§9 rule 1)
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

    @property
    def label(self) -> str:
        return f"{self.name} {self.semver or self.id}"


class Registry:
    """The model registry of the project behind one GitLab MLflow endpoint."""

    def __init__(self, client: MlflowClient, settings: TrackingSettings) -> None:
        self.client = client
        self.settings = settings

    def ensure_model(self, name: str, description: str = "") -> bool:
        """Create registered model `name` unless it exists; True if this call created it.

        Raises:
            ReleaseError: GitLab refuses the name (every create failure is
                RESOURCE_ALREADY_EXISTS there, §8, so an existing model is checked first).
        """
        if self._exists(name):
            return False
        with translate_errors(self.settings):
            try:
                self.client.create_registered_model(name, description=description or None)
                return True
            except RestException as exc:
                if exc.error_code != "RESOURCE_ALREADY_EXISTS":
                    raise
        if self._exists(name):
            return False  # a concurrent release created it
        raise ReleaseError(f"GitLab refused to create model {name!r}: the name is invalid, or "
                           f"an experiment named [model]{name} exists",
                           hint="use letters, digits and _ . - + (and / between parts)")

    def versions(self, name: str) -> list[ModelVersion]:
        """Every version of model `name` with its tags (none when the model does not exist)."""
        with translate_errors(self.settings):
            try:
                model = self.client.get_registered_model(name)
            except RestException as exc:
                if exc.error_code == "RESOURCE_DOES_NOT_EXIST":
                    return []
                raise
        # GitLab's `latest_versions` holds all versions, not one per stage (§8).
        return [_version(mv) for mv in model.latest_versions]

    def create_version(self, name: str, semver: SemVer, tags: Mapping[str, str],
                       description: str) -> ModelVersion:
        """Create version `semver` of model `name` with `tags`, all at once.

        Raises:
            VersionTaken: `semver` exists already (a concurrent release made it).
        """
        all_tags = {**tags, VERSION_TAG: str(semver)}
        with translate_errors(self.settings):
            try:
                mv = self.client.create_model_version(
                    name, source="", tags=all_tags, description=description,
                    await_creation_for=0)  # GitLab answers READY; never poll by id (§9)
            except RestException as exc:
                if _TAKEN in str(exc.json.get("message") if exc.json else exc.message):
                    raise VersionTaken(f"{name} {semver} already exists") from None
                raise
        return _version(mv)

    def set_description(self, version: ModelVersion, description: str) -> None:
        """Replace the description (the one field GitLab can update on a version)."""
        with translate_errors(self.settings):
            self.client.update_model_version(version.name, str(version.semver), description)

    def _exists(self, name: str) -> bool:
        with translate_errors(self.settings):
            try:
                self.client.get_registered_model(name)
                return True
            except RestException as exc:
                if exc.error_code == "RESOURCE_DOES_NOT_EXIST":
                    return False
                raise


def _version(mv) -> ModelVersion:
    """Our view of an MLflow ModelVersion: the semver from `aliases[0]`, else the tag."""
    text = (mv.aliases[0] if mv.aliases else None) or mv.tags.get(VERSION_TAG)
    return ModelVersion(name=mv.name, id=str(mv.version), semver=SemVer.maybe(text),
                        tags=dict(mv.tags), description=mv.description or "",
                        web_url=mv.source or "")
