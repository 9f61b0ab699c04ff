"""Where to talk to: the tracking server, GitLab's REST API, the project and the tokens.

Read from the environment (standard `MLFLOW_*` and `CI_*` variables as they are, our own as
`MLFLOW_GITLAB_*`, see `mlflow_gitlab.env`) with CLI flags taking precedence; errors name the
variable to set. Every token read is registered with the redactor and checked before
anything is sent.
"""

from mlflow_gitlab.settings.experiment import experiment_name
from mlflow_gitlab.settings.gitlab import REQUEST_SECONDS, GitLabSettings, gitlab_settings
from mlflow_gitlab.settings.tracking import TrackingSettings, gitlab_api_of, tracking_settings
from mlflow_gitlab.settings.transfer import (
    DEFAULT_MAX_FILE_SIZE,
    TransferSettings,
    follow_symlinks,
    transfer_settings,
)

__all__ = [
    "DEFAULT_MAX_FILE_SIZE",
    "REQUEST_SECONDS",
    "GitLabSettings",
    "TrackingSettings",
    "TransferSettings",
    "experiment_name",
    "follow_symlinks",
    "gitlab_api_of",
    "gitlab_settings",
    "tracking_settings",
    "transfer_settings",
]
