"""A run's outputs as a package: its default coordinates, and the run tags pointing to them.

The package is `ml_experiment_<experiment_id>`, version `<run_id>` (design.md, "Names on
GitLab"): GitLab's own naming family for run files, with the run id as a valid generic
version. GitLab does not link such a package to the run by itself, so the
run carries its coordinates as tags.
"""

from __future__ import annotations

from collections.abc import Mapping

from mlflow_gitlab.packages.naming import check_package
from mlflow_gitlab.tags import PACKAGE_NAME, PACKAGE_URL, PACKAGE_VERSION

# Tags on the run (documented in docs/packages.md); set once, never overwritten.


def run_package(run_id: str, experiment_id: str) -> tuple[str, str]:
    """The (name, version) of the generic package that holds a run's outputs.

    Raises:
        InvalidPackageName: the ids do not make a valid package name or version.
    """
    name, version = f"ml_experiment_{experiment_id}", run_id
    check_package(name, version)
    return name, version


def package_tags(name: str, version: str, manifest_url: str) -> dict[str, str]:
    """The run tags that point to its package."""
    return {PACKAGE_NAME: name, PACKAGE_VERSION: version, PACKAGE_URL: manifest_url}


def package_from_tags(tags: Mapping[str, str]) -> tuple[str, str] | None:
    """The (name, version) a run's tags point to, or None when it has none."""
    if tags.get(PACKAGE_NAME) and tags.get(PACKAGE_VERSION):
        return tags[PACKAGE_NAME], tags[PACKAGE_VERSION]
    return None
