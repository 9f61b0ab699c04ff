"""A model's versions, newest semver first, with the runs they came from: what
`mlflow-gitlab versions` shows.

Read from GitLab's MLflow-compatible registry: `registered-models/get` lists every version
with its tags (`lib/api/entities/ml/mlflow/registered_model.rb` exposes all versions as
`latest_versions`), and each source run, recorded by `release` in tag
`mlflow-gitlab.source.run_id`, is read with `runs/get`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mlflow_gitlab import tags as t
from mlflow_gitlab.errors import ConfigError, MlflowGitlabError
from mlflow_gitlab.packages.naming import check_model_name
from mlflow_gitlab.release import record as rec
from mlflow_gitlab.settings import tracking_settings
from mlflow_gitlab.show.table import iso
from mlflow_gitlab.tracking.registry import ModelVersion, Registry
from mlflow_gitlab.tracking.run_search import Candidate, RunSource
from mlflow_gitlab.tracking.runs import Tracker
from mlflow_gitlab.versioning import latest_release

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class VersionRow:
    """One version and its source run (None when the version records none, or it is gone)."""

    version: ModelVersion
    latest: bool
    run: Candidate | None
    metric: float | None

    @property
    def label(self) -> str:
        return str(self.version.semver or self.version.id)

    @property
    def state(self) -> str:
        """`latest`, `prerelease`, `incomplete` (its files are still being copied) or ``."""
        if rec.is_incomplete(self.version.description):
            return "incomplete"
        if self.latest:
            return "latest"
        semver = self.version.semver
        return "prerelease" if semver is not None and semver.is_prerelease else ""

    def origin(self, key: str) -> str | None:
        """A CI tag of where it came from: the source run's, else the version's own."""
        run_tags = self.run.tags if self.run is not None else {}
        return run_tags.get(key) or self.version.tags.get(key)

    def as_json(self) -> dict[str, Any]:
        v, run = self.version, self.run
        return {
            "version": self.label, "version_id": v.id, "state": self.state,
            "created": iso(v.created), "web_url": v.web_url or None,
            "bump": v.tags.get(rec.BUMP),
            "run": None if run is None else {
                "run_id": run.run_id, "name": run.name, "experiment_id": run.experiment_id,
                "status": run.status},
            "source_run_id": v.tags.get(rec.SOURCE_RUN),
            "metric": self.metric,
            "pipeline": {"id": _int(self.origin(t.PIPELINE_ID)),
                         "iid": _int(self.origin(t.PIPELINE_IID)),
                         "url": self.origin(t.PIPELINE_URL)},
            "job": {"id": _int(self.run.tags.get(t.JOB_ID)) if run else None,
                    "name": run.tags.get(t.JOB_NAME) if run else None,
                    "url": run.tags.get(t.JOB_URL) if run else None},
        }


@dataclass(frozen=True)
class ModelVersions:
    """The versions shown, newest first, and how many the model has."""

    model: str
    metric: str | None
    rows: list[VersionRow]
    total: int

    def as_json(self) -> dict[str, Any]:
        return {"model": self.model, "metric": self.metric, "total": self.total,
                "versions": [row.as_json() for row in self.rows]}


def model_view(*, model: str, metric: str | None, limit: int, tracking_uri: str | None,
               env: Mapping[str, str] | None = None) -> ModelVersions:
    """The newest `limit` versions of `model` (0: all), in semver order, newest first.

    Raises:
        ConfigError: a bad model name, or no such model.
        MlflowGitlabError: the registry cannot be read.
    """
    env = dict(os.environ if env is None else env)
    check_model_name(model)
    settings = tracking_settings(env, tracking_uri)
    if not settings.is_gitlab:
        raise ConfigError(f"{settings.shown_uri} is not a GitLab project's MLflow endpoint; "
                          "versions reads GitLab's model registry",
                          hint="set MLFLOW_TRACKING_URI=<gitlab>/api/v4/projects/<id>/ml/mlflow")
    api = Tracker(settings).api
    versions = Registry(api).find_versions(model)
    if versions is None:
        raise ConfigError(f"model {model!r} does not exist on {settings.shown_uri}",
                          hint="check --model: `mlflow-gitlab release` creates the model "
                               "with its first version")
    ordered = _newest_first(versions)
    latest = latest_release(v.semver for v in versions if v.semver is not None)
    runs = RunSource(settings, api)
    rows = []
    for version in ordered[:limit] if limit else ordered:
        run = _source_run(runs, version)
        value = rec.recorded_metric(version.tags, metric) if metric else None
        if metric and value is None and run is not None:
            value = run.metrics.get(metric)
        rows.append(VersionRow(version, latest is not None and version.semver == latest,
                               run, value))
    return ModelVersions(model, metric, rows, len(versions))


def _newest_first(versions: list[ModelVersion]) -> list[ModelVersion]:
    """Semver versions by precedence, highest first; any other version after, by id."""
    semvers = sorted((v for v in versions if v.semver is not None),
                     key=lambda v: v.semver, reverse=True)  # type: ignore[arg-type,return-value]
    others = sorted((v for v in versions if v.semver is None),
                    key=lambda v: int(v.id) if v.id.isdigit() else 0, reverse=True)
    return semvers + others


def _source_run(runs: RunSource, version: ModelVersion) -> Candidate | None:
    run_id = version.tags.get(rec.SOURCE_RUN)
    if not run_id:
        return None
    try:
        return runs.get(run_id)
    except MlflowGitlabError as exc:
        log.warning("cannot read the source run of %s: %s", version.label, exc)
        return None


def _int(value: str | None) -> int | str | None:
    return int(value) if value is not None and value.isdigit() else value
