"""What `release` is asked (`ReleaseOptions`) and what it answers (`Release`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mlflow_gitlab.versioning import SemVer


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
