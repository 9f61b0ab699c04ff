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

from mlflow_gitlab import env as variables
from mlflow_gitlab.context import collect_context
from mlflow_gitlab.errors import ConfigError, NothingToRelease
from mlflow_gitlab.output.dotenv import check_dotenv_path, write_dotenv
from mlflow_gitlab.packages.naming import check_model_name
from mlflow_gitlab.release.gate import Gate
from mlflow_gitlab.release.options import Release, ReleaseOptions
from mlflow_gitlab.release.releaser import Releaser
from mlflow_gitlab.release.select import MODES
from mlflow_gitlab.settings import tracking_settings
from mlflow_gitlab.versioning import Bump, SemVer


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
    if mr is not None and mr.from_fork and not variables.TRACKING_TOKEN.read(env):
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
