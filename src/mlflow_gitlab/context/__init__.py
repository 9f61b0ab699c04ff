"""The CI context: who, where and what a job is, from GitLab's predefined variables or git."""

from mlflow_gitlab.context.collect import collect_context
from mlflow_gitlab.context.model import (
    CIContext,
    Commit,
    Job,
    MergeRequest,
    Pipeline,
    PipelineKind,
    Project,
    Runner,
    User,
)

__all__ = [
    "CIContext",
    "Commit",
    "Job",
    "MergeRequest",
    "Pipeline",
    "PipelineKind",
    "Project",
    "Runner",
    "User",
    "collect_context",
]
