"""Build a CIContext from GitLab's predefined CI/CD variables (pure: env in, context out)."""

from __future__ import annotations

import re
from collections.abc import Mapping

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
from mlflow_gitlab.env import MATRIX_KEYS
from mlflow_gitlab.redaction import strip_url_credentials

_MATRIX_NAME = re.compile(r"\A(?P<base>.*?): \[(?P<values>.*)\]\Z")
_PARALLEL_NAME = re.compile(r"\A(?P<base>.*) (?P<index>\d+)/(?P<total>\d+)\Z")
_MR_EVENT_KINDS = {
    "merged_result": PipelineKind.MERGED_RESULT,
    "merge_train": PipelineKind.MERGE_TRAIN,
}
_SOURCE_KINDS = {
    "schedule": PipelineKind.SCHEDULE,
    "web": PipelineKind.WEB,
    "api": PipelineKind.API,
    "trigger": PipelineKind.TRIGGER,
    "pipeline": PipelineKind.MULTI_PROJECT,
    "parent_pipeline": PipelineKind.CHILD,
}
# A child pipeline's parent pipeline id: GitLab has no predefined variable for it, and its
# docs pass it down from the trigger job under this name (`doc/ci/pipelines/
# downstream_pipelines.md`); `tune matrix --format child` writes it into the child's job.
PARENT_PIPELINE_VARIABLE = "PARENT_PIPELINE_ID"
# Variables that are GitLab's or the runner's own: never taken for a matrix key.
_PREDEFINED_PREFIXES = ("CI_", "GITLAB_", "RUNNER_", "FF_", "MLFLOW_", "DOCKER_", "KUBERNETES_")


def is_gitlab_ci(env: Mapping[str, str]) -> bool:
    """True inside a GitLab CI job (`GITLAB_CI == "true"`)."""
    return env.get("GITLAB_CI") == "true"


def from_environment(env: Mapping[str, str]) -> CIContext:
    """The context of the current GitLab job, read from `env` alone."""
    get = _getter(env)
    kind = pipeline_kind(env)
    return CIContext(
        in_ci=True,
        server_url=get("CI_SERVER_URL"),
        api_url=get("CI_API_V4_URL"),
        project=Project(id=_int(get("CI_PROJECT_ID")), path=get("CI_PROJECT_PATH"),
                        url=get("CI_PROJECT_URL"), default_branch=get("CI_DEFAULT_BRANCH")),
        pipeline=Pipeline(
            id=_int(get("CI_PIPELINE_ID")), iid=_int(get("CI_PIPELINE_IID")),
            source=get("CI_PIPELINE_SOURCE"), kind=kind, url=get("CI_PIPELINE_URL"),
            name=get("CI_PIPELINE_NAME"), created_at=get("CI_PIPELINE_CREATED_AT"),
            parent_pipeline_id=_int(get(PARENT_PIPELINE_VARIABLE))
            if kind is PipelineKind.CHILD else None,
        ),
        job=_job(env),
        merge_request=_merge_request(env, kind),
        commit=_commit(env),
        user=User(login=get("GITLAB_USER_LOGIN"), name=get("GITLAB_USER_NAME"),
                  id=_int(get("GITLAB_USER_ID"))),
        runner=Runner(id=_int(get("CI_RUNNER_ID")), description=get("CI_RUNNER_DESCRIPTION"),
                      tags=_list(get("CI_RUNNER_TAGS")), version=get("CI_RUNNER_VERSION")),
    )


def pipeline_kind(env: Mapping[str, str]) -> PipelineKind:
    """Tell pipeline kinds apart from GitLab's predefined variables, most specific first."""
    get = _getter(env)
    source = get("CI_PIPELINE_SOURCE")
    if source == "parent_pipeline":  # always so in a child, whatever started the parent
        return PipelineKind.CHILD
    if source == "merge_request_event" or get("CI_MERGE_REQUEST_IID"):
        event = get("CI_MERGE_REQUEST_EVENT_TYPE") or ""
        return _MR_EVENT_KINDS.get(event, PipelineKind.MERGE_REQUEST)
    if source in _SOURCE_KINDS:
        return _SOURCE_KINDS[source]
    if get("CI_COMMIT_TAG"):
        return PipelineKind.TAG
    if get("CI_COMMIT_BRANCH"):
        return PipelineKind.BRANCH
    return PipelineKind.OTHER


def matrix_values(job_name: str | None) -> tuple[str | None, tuple[str, ...]]:
    """(base name, values) of a `parallel:matrix` job name like `train: [0.1, adam]`."""
    if not job_name:
        return job_name, ()
    m = _MATRIX_NAME.match(job_name)
    if m is None:
        p = _PARALLEL_NAME.match(job_name)
        return (p["base"] if p else job_name), ()
    return m["base"], tuple(v.strip() for v in m["values"].split(","))


def _job(env: Mapping[str, str]) -> Job:
    get = _getter(env)
    base, values = matrix_values(get("CI_JOB_NAME"))
    return Job(
        id=_int(get("CI_JOB_ID")), name=get("CI_JOB_NAME"), base_name=base,
        url=get("CI_JOB_URL"), stage=get("CI_JOB_STAGE"),
        matrix=_matrix_pairs(env, values), node_index=_int(get("CI_NODE_INDEX")),
        node_total=_int(get("CI_NODE_TOTAL")) or 1, started_at=get("CI_JOB_STARTED_AT"),
    )


def _matrix_pairs(env: Mapping[str, str], values: tuple[str, ...]
                  ) -> tuple[tuple[str, str], ...]:
    """Name each matrix value with its variable.

    GitLab puts only the values in the job name; the keys arrive as ordinary variables.
    MLFLOW_GITLAB_MATRIX_KEYS (set by our components) names them in order; otherwise a
    value is matched to the one non-predefined variable holding it, else `matrix_<n>`.
    """
    declared = MATRIX_KEYS.read(env)
    if declared and len(declared) == len(values):
        return tuple(zip(declared, values, strict=True))
    pairs = []
    for n, value in enumerate(values):
        holders = [k for k, v in env.items()
                   if v == value and not k.startswith(_PREDEFINED_PREFIXES)
                   and re.fullmatch(r"[A-Za-z0-9_]+", k)]
        pairs.append((holders[0] if len(holders) == 1 else f"matrix_{n}", value))
    return tuple(pairs)


def _merge_request(env: Mapping[str, str], kind: PipelineKind) -> MergeRequest | None:
    get = _getter(env)
    iid = _int(get("CI_MERGE_REQUEST_IID"))
    if iid is None:
        return None
    return MergeRequest(
        iid=iid, id=_int(get("CI_MERGE_REQUEST_ID")), title=get("CI_MERGE_REQUEST_TITLE"),
        labels=_list(get("CI_MERGE_REQUEST_LABELS")),
        source_branch=get("CI_MERGE_REQUEST_SOURCE_BRANCH_NAME"),
        target_branch=get("CI_MERGE_REQUEST_TARGET_BRANCH_NAME"),
        source_sha=get("CI_MERGE_REQUEST_SOURCE_BRANCH_SHA"),
        target_sha=get("CI_MERGE_REQUEST_TARGET_BRANCH_SHA"),
        diff_base_sha=get("CI_MERGE_REQUEST_DIFF_BASE_SHA"),
        event_type=get("CI_MERGE_REQUEST_EVENT_TYPE"),
        project_id=_int(get("CI_MERGE_REQUEST_PROJECT_ID")),
        project_path=get("CI_MERGE_REQUEST_PROJECT_PATH"),
        source_project_id=_int(get("CI_MERGE_REQUEST_SOURCE_PROJECT_ID")),
        source_project_path=get("CI_MERGE_REQUEST_SOURCE_PROJECT_PATH"),
    )


def _commit(env: Mapping[str, str]) -> Commit:
    get = _getter(env)
    before = get("CI_COMMIT_BEFORE_SHA")
    project_url = get("CI_PROJECT_URL")
    return Commit(
        # In merged-results pipelines CI_COMMIT_SHA is a temporary merge commit; the
        # source branch's real head is CI_MERGE_REQUEST_SOURCE_BRANCH_SHA.
        sha=get("CI_MERGE_REQUEST_SOURCE_BRANCH_SHA") or get("CI_COMMIT_SHA"),
        short_sha=get("CI_COMMIT_SHORT_SHA"),
        ref=get("CI_COMMIT_REF_NAME"),
        branch=(get("CI_MERGE_REQUEST_SOURCE_BRANCH_NAME") or get("CI_COMMIT_BRANCH")),
        tag=get("CI_COMMIT_TAG"),
        title=get("CI_COMMIT_TITLE"),
        message=get("CI_COMMIT_MESSAGE"),
        before_sha=None if not before or set(before) == {"0"} else before,
        remote_url=strip_url_credentials(project_url) if project_url else None,
    )


def _getter(env: Mapping[str, str]):
    """env.get that treats empty strings as unset (GitLab sets some variables empty)."""
    def get(name: str) -> str | None:
        return env.get(name) or None
    return get


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _list(value: str | None) -> tuple[str, ...]:
    return tuple(v.strip() for v in value.split(",") if v.strip()) if value else ()
