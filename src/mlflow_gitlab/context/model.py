"""CIContext: a frozen description of the job a run belongs to (pure data, no I/O)."""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass, field
from typing import Any


class PipelineKind(str, enum.Enum):
    """How the pipeline came to be: branch, tag, schedule, merge request, merged result,
    merge train or child."""

    BRANCH = "branch"
    TAG = "tag"
    SCHEDULE = "schedule"
    MERGE_REQUEST = "merge_request"  # detached MR pipeline
    MERGED_RESULT = "merged_result"
    MERGE_TRAIN = "merge_train"
    WEB = "web"
    API = "api"
    TRIGGER = "trigger"
    MULTI_PROJECT = "pipeline"  # a multi-project downstream pipeline
    CHILD = "parent_pipeline"  # a child pipeline
    OTHER = "other"
    LOCAL = "local"  # not in GitLab CI

    @property
    def is_merge_request(self) -> bool:
        return self in (PipelineKind.MERGE_REQUEST, PipelineKind.MERGED_RESULT,
                        PipelineKind.MERGE_TRAIN)


@dataclass(frozen=True)
class Project:
    id: int | None = None
    path: str | None = None  # namespace/project
    url: str | None = None
    default_branch: str | None = None


@dataclass(frozen=True)
class Pipeline:
    id: int | None = None  # instance-wide
    iid: int | None = None  # per project
    source: str | None = None  # CI_PIPELINE_SOURCE, as GitLab spells it
    kind: PipelineKind = PipelineKind.LOCAL
    url: str | None = None
    name: str | None = None
    created_at: str | None = None
    parent_pipeline_id: int | None = None  # for child pipelines, when passed down


@dataclass(frozen=True)
class Job:
    id: int | None = None
    name: str | None = None  # `train: [0.1, adam]` for a matrix job
    base_name: str | None = None  # `train`
    url: str | None = None
    stage: str | None = None
    matrix: tuple[tuple[str, str], ...] = ()  # (variable, value) in definition order
    node_index: int | None = None  # 1-based; only for `parallel` jobs
    node_total: int = 1
    started_at: str | None = None


@dataclass(frozen=True)
class MergeRequest:
    iid: int
    id: int | None = None
    title: str | None = None
    labels: tuple[str, ...] = ()
    source_branch: str | None = None
    target_branch: str | None = None
    source_sha: str | None = None  # the real head commit; set in merged-results pipelines
    target_sha: str | None = None
    diff_base_sha: str | None = None
    event_type: str | None = None  # detached | merged_result | merge_train
    project_id: int | None = None  # the target project: notes go here
    project_path: str | None = None
    source_project_id: int | None = None
    source_project_path: str | None = None

    @property
    def from_fork(self) -> bool:
        return (self.source_project_id is not None and self.project_id is not None
                and self.source_project_id != self.project_id)


@dataclass(frozen=True)
class Commit:
    sha: str | None = None
    short_sha: str | None = None
    ref: str | None = None  # CI_COMMIT_REF_NAME: branch or tag name
    branch: str | None = None  # the source branch also in MR pipelines
    tag: str | None = None
    title: str | None = None
    message: str | None = None
    before_sha: str | None = None  # None when GitLab sends all zeros
    remote_url: str | None = None  # credentials stripped
    dirty: bool | None = None  # only known outside CI


@dataclass(frozen=True)
class User:
    login: str | None = None
    name: str | None = None
    id: int | None = None


@dataclass(frozen=True)
class Runner:
    id: int | None = None
    description: str | None = None
    tags: tuple[str, ...] = ()
    version: str | None = None


@dataclass(frozen=True)
class CIContext:
    """Everything known about the job a run belongs to. Build it with `collect_context()`."""

    in_ci: bool = False
    server_url: str | None = None
    api_url: str | None = None  # CI_API_V4_URL, relative root included
    project: Project = field(default_factory=Project)
    pipeline: Pipeline = field(default_factory=Pipeline)
    job: Job = field(default_factory=Job)
    merge_request: MergeRequest | None = None
    commit: Commit = field(default_factory=Commit)
    user: User = field(default_factory=User)
    runner: Runner = field(default_factory=Runner)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (enums as their values)."""
        data = asdict(self)
        data["pipeline"]["kind"] = self.pipeline.kind.value
        return data
