"""mlflow-gitlab: run MLflow experiments inside GitLab CI."""

from mlflow_gitlab.errors import MlflowGitlabError

__version__ = "0.1.0"
__all__ = ["MlflowGitlabError", "__version__"]
