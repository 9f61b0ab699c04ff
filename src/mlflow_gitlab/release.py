"""`mlflow-gitlab release`: make this pipeline's best run the next semver model version.

Select the candidate, decide the version from its signature (or an override), create the
version with everything it records, then copy the candidate's model files into its package,
`manifest.json` last. Idempotent per pipeline: a re-run finds the version its pipeline made
(completing its files if needed). Safe against concurrent releases: a version taken meanwhile
means deciding again, a bounded number of times.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from mlflow_gitlab.context import collect_context
from mlflow_gitlab.dotenv import check_dotenv_path, write_dotenv
from mlflow_gitlab.errors import ConfigError, NothingToRelease
from mlflow_gitlab.packages.naming import check_model_name
from mlflow_gitlab.release_gate import Gate
from mlflow_gitlab.release_select import MODES
from mlflow_gitlab.settings import tracking_settings
from mlflow_gitlab.versioning import Bump, SemVer


@dataclass(frozen=True)
class ReleaseOptions:
    """What `mlflow-gitlab release` was asked (see its --help)."""

    model: str
    metric: str | None = None
    mode: str = "min"
    bump: str = "auto"
    run_id: str | None = None
    prerelease: bool = False
    max_regression: str | None = None
    initial_version: str = "1.0.0"
    experiment: str | None = None
    model_path: str | None = None
    tracking_uri: str | None = None
    dotenv: Path | None = None


@dataclass(frozen=True)
class Release:
    """A released (or found) model version."""

    name: str
    version: str  # the semver
    version_id: str  # GitLab's id: `ml_models/<id>/files`, `models:/<name>/<id>`
    web_url: str
    source_run_id: str
    bump: str  # major | minor | patch | initial
    created: bool  # False: this pipeline had made it before (a re-run)
    completed: bool  # True: this call copied the files (a new version, or a resumed one)

    @property
    def prerelease(self) -> bool:
        return SemVer.parse(self.version).is_prerelease

    def outputs(self) -> dict[str, str]:
        """The dotenv keys for later jobs (`artifacts:reports:dotenv`)."""
        values = {"MODEL_NAME": self.name, "MODEL_VERSION": self.version,
                  "MODEL_VERSION_ID": self.version_id, "MODEL_VERSION_URL": self.web_url,
                  "MODEL_SOURCE_RUN_ID": self.source_run_id, "MODEL_BUMP": self.bump,
                  "MODEL_PRERELEASE": str(self.prerelease).lower()}
        return {k: v for k, v in values.items() if v}

    def as_json(self) -> dict[str, object]:
        return {"name": self.name, "version": self.version, "version_id": self.version_id,
                "web_url": self.web_url, "source_run_id": self.source_run_id,
                "bump": self.bump, "prerelease": self.prerelease, "created": self.created,
                "completed": self.completed}


def release(options: ReleaseOptions, env: Mapping[str, str] | None = None) -> Release:
    """Release (or find) this pipeline's model version.

    Raises:
        NothingToRelease: no candidate, or a merge-request pipeline without `prerelease`.
        RegressionGateFailed: the candidate regresses more than `max_regression` allows.
        ConfigError: options or settings are unusable.
        ReleaseError, MlflowGitlabError: the registry or the packages failed.
    """
    env = dict(os.environ if env is None else env)
    _check(options)
    context = collect_context(env)
    if context.merge_request is not None and not options.prerelease:
        raise NothingToRelease(
            f"merge-request pipelines release only prereleases of {options.model}",
            hint="pass --prerelease to release X.Y.Z-mr.<iid>.<n> from merge requests")
    mr = context.merge_request
    if mr is not None and mr.from_fork and not env.get("MLFLOW_TRACKING_TOKEN"):
        raise NothingToRelease(
            "a fork's merge-request pipeline gets none of the parent project's CI/CD "
            "variables, so there is no token to release with",
            hint="a maintainer can run the pipeline in the parent project (Run pipeline on "
                 "the merge request) to prerelease it")
    if context.pipeline.id is None and not options.run_id:
        raise ConfigError("outside a GitLab pipeline there is no pipeline to pick a run from",
                          hint="pass --run RUN_ID")
    settings = tracking_settings(env, options.tracking_uri)
    if not settings.is_gitlab:
        raise ConfigError(f"{settings.shown_uri} is not a GitLab project's MLflow endpoint; "
                          "releases need GitLab's model registry",
                          hint="set MLFLOW_TRACKING_URI=<gitlab>/api/v4/projects/<id>/ml/mlflow")

    from mlflow_gitlab.release_run import Releaser

    result = Releaser(options, context, settings, env).run()
    if options.dotenv is not None:
        write_dotenv(options.dotenv, result.outputs())
    return result


def _check(options: ReleaseOptions) -> None:
    """Refuse bad options before any network call."""
    check_model_name(options.model)
    if SemVer.parse(options.initial_version).is_prerelease:
        raise ConfigError("--initial-version must not be a prerelease")
    if options.bump.lower() != "auto":
        Bump.parse(options.bump, "--bump")
    if options.mode not in MODES:
        raise ConfigError(f"--mode {options.mode!r} is not min or max")
    if options.max_regression is not None:
        Gate.parse(options.max_regression)
        if not options.metric:
            raise ConfigError("--max-regression needs --metric: the metric to compare")
    if options.dotenv is not None:
        check_dotenv_path(options.dotenv)
