"""Files to and from GitLab generic packages, named directly or by the MLflow run they belong to.

A run's outputs go to `ml_experiment_<experiment_id>` version `<run_id>`, and the run is
tagged with the package's coordinates (`mlflow-gitlab.package.*`), so a later download by
run id, or a person in the UI, finds them.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from mlflow_gitlab.errors import ConfigError
from mlflow_gitlab.gitlab_api import GitLabClient, connect
from mlflow_gitlab.packages import (
    DownloadResult,
    Progress,
    UploadResult,
    download_package,
    package_from_tags,
    package_tags,
    run_package,
    upload_paths,
)
from mlflow_gitlab.settings import TransferSettings, gitlab_settings, tracking_settings

if TYPE_CHECKING:
    from mlflow_gitlab.tracking.runs import Tracker

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PackageTarget:
    """Which package: `package` and `version`, or the outputs of run `run_id`."""

    package: str | None = None
    version: str | None = None
    run_id: str | None = None
    gitlab_url: str | None = None  # else MLFLOW_GITLAB_URL, CI_API_V4_URL, ...
    project: str | None = None  # else MLFLOW_GITLAB_PROJECT, CI_PROJECT_ID, ...
    tracking_uri: str | None = None  # to look the run up; else MLFLOW_TRACKING_URI

    def check(self) -> None:
        """Refuse an incomplete or ambiguous target before anything is sent.

        Raises:
            ConfigError: neither or both of `--package/--version` and `--run`.
        """
        named = self.package is not None or self.version is not None
        if named == (self.run_id is not None) or (named and not (self.package and self.version)):
            raise ConfigError("give either --package and --version, or --run",
                              hint="e.g. --package my-model --version 1.2.0, or --run $RUN_ID")


def upload(paths: Sequence[Path | str], target: PackageTarget, *,
           env: Mapping[str, str] | None = None, transfer: TransferSettings | None = None,
           progress: Progress | None = None, follow_symlinks: bool = False,
           replace: bool = False) -> UploadResult:
    """Upload `paths` to the target package; with a run, tag the run with the package.

    A package that already has files keeps them: the upload adds to its manifest
    (`replace`: a path already there with other content is replaced, else refused).

    Raises:
        ConfigError: the target or the settings are unusable (nothing was sent).
        MlflowGitlabError: the upload, or looking up or tagging the run, failed.
    """
    target.check()
    env = os.environ if env is None else env
    client = _client(target, env)
    if target.run_id is None:
        return upload_paths(client, target.package or "", target.version or "", paths,
                            transfer=transfer, progress=progress,
                            follow_symlinks=follow_symlinks, replace=replace)
    tracker = _tracker(target, env)
    experiment_id, _ = tracker.run_tags(target.run_id)
    return publish_run_outputs(tracker, target.run_id, experiment_id, paths, client=client,
                               transfer=transfer, progress=progress,
                               follow_symlinks=follow_symlinks, replace=replace)


def download(dest: Path | str, target: PackageTarget, *,
             env: Mapping[str, str] | None = None, transfer: TransferSettings | None = None,
             progress: Progress | None = None) -> DownloadResult:
    """Download the target package into `dest`; a run's package is found from its tags.

    Raises:
        ConfigError: the target or the settings are unusable.
        MlflowGitlabError: the download, or looking up the run, failed.
    """
    target.check()
    env = os.environ if env is None else env
    client = _client(target, env)
    package, version = target.package or "", target.version or ""
    if target.run_id is not None:
        experiment_id, tags = _tracker(target, env).run_tags(target.run_id)
        package, version = package_from_tags(tags) or run_package(target.run_id, experiment_id)
    return download_package(client, package, version, dest, transfer=transfer,
                            progress=progress)


def publish_run_outputs(tracker: Tracker, run_id: str, experiment_id: str,
                        paths: Sequence[Path | str], *, client: GitLabClient,
                        transfer: TransferSettings | None = None,
                        progress: Progress | None = None,
                        follow_symlinks: bool = False, replace: bool = False) -> UploadResult:
    """Upload a run's outputs to its package, then tag the run with the package's coordinates.

    Outputs uploaded earlier (by `run --artifacts` or another upload) stay in the package.

    Raises:
        MlflowGitlabError: the upload or the tagging failed.
    """
    package, version = run_package(run_id, experiment_id)
    result = upload_paths(client, package, version, paths, transfer=transfer,
                          progress=progress, follow_symlinks=follow_symlinks,
                          replace=replace)
    kept = tracker.tag_once(run_id, package_tags(package, version, result.manifest_url))
    if kept:
        log.warning("run %s already had other values for %s; left unchanged", run_id,
                    ", ".join(kept))
    return result


def run_client(env: Mapping[str, str]) -> GitLabClient | None:
    """A GitLab client from `env`, or None when nothing says where GitLab is.

    Raises:
        ConfigError: GitLab is named but the project or the token is missing.
    """
    settings = gitlab_settings(env, required=False)
    return None if settings is None else connect(settings)


def _client(target: PackageTarget, env: Mapping[str, str]) -> GitLabClient:
    settings = gitlab_settings(env, url=target.gitlab_url, project=target.project)
    assert settings is not None  # required=True raises instead
    return connect(settings)


def _tracker(target: PackageTarget, env: Mapping[str, str]) -> Tracker:
    from mlflow_gitlab.tracking.runs import Tracker

    return Tracker(tracking_settings(env, target.tracking_uri))
