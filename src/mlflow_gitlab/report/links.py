"""Where a report's links point: run pages, experiment pages and run output packages."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote

from mlflow_gitlab.errors import MlflowGitlabError
from mlflow_gitlab.gitlab_api import GitLabClient, ProjectAPI
from mlflow_gitlab.packages import package_from_tags
from mlflow_gitlab.settings import TrackingSettings
from mlflow_gitlab.tracking.web_pages import experiment_page, run_page

log = logging.getLogger(__name__)



class Links:
    """URLs for one experiment's runs, on GitLab's UI or on a plain MLflow server's."""

    def __init__(self, tracking: TrackingSettings, project_url: str | None,
                 experiment_id: str) -> None:
        self.tracking = tracking
        self.project_url = project_url.rstrip("/") if project_url else None
        self.experiment_id = experiment_id
        self.packages: dict[tuple[str, str], int] = {}  # (name, version) -> package id

    def experiment(self) -> str | None:
        """The experiment's page."""
        if not self.tracking.is_gitlab:
            return f"{self.tracking.tracking_uri.rstrip('/')}/#/experiments/{self.experiment_id}"
        if self.project_url is None:
            return None
        return experiment_page(self.project_url, self.experiment_id)

    def run(self, run: Mapping[str, Any]) -> str | None:
        """A run's page, from its raw `runs/search` JSON; the experiment's page when GitLab's
        candidate number cannot be told."""
        info = run["info"]
        if not self.tracking.is_gitlab:
            return f"{self.experiment()}/runs/{info['run_id']}"
        page = run_page(self.project_url, info.get("artifact_uri")) if self.project_url else None
        return page or self.experiment()

    def package(self, tags: Mapping[str, str]) -> str | None:
        """The page of the package a run's tags point to (`mlflow-gitlab.package.*`): its own
        page when `load_packages` found it, else the packages list searched by its name."""
        coordinates = package_from_tags(tags)
        if coordinates is None or self.project_url is None:
            return None
        package_id = self.packages.get(coordinates)
        if package_id is None:
            return f"{self.project_url}/-/packages?search[]={quote(coordinates[0])}"
        return f"{self.project_url}/-/packages/{package_id}"

    def load_packages(self, client: GitLabClient | None, names: Iterable[str]) -> None:
        """List the packages named `names` once (a job token may), so each run's link costs
        nothing. Optional: a failure leaves the links on the searched packages list."""
        if client is None:
            return
        for name in sorted(set(names)):
            try:
                # `package_name` is a substring match (`doc/api/packages.md`): keep the
                # exact name only.
                for package in ProjectAPI(client).packages(name):
                    if package.get("name") == name:
                        self.packages[(name, str(package.get("version")))] = int(package["id"])
            except MlflowGitlabError as exc:
                log.warning("package links lead to the packages list: %s", exc)
                return
