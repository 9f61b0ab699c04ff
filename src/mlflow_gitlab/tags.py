"""CIContext -> MLflow run tags, within GitLab's limits and with secrets masked.

The names are a contract with users (see docs/tags.md): `gitlab.*` keys carry the CI
variables they are named after; MLflow's own `mlflow.*` keys carry the source and user.
"""

from __future__ import annotations

from collections.abc import Mapping

from mlflow_gitlab.context.model import CIContext
from mlflow_gitlab.errors import ConfigError
from mlflow_gitlab.redaction import Redactor

# GitLab's run-tag limits: longer values are rejected with a 400.
MAX_KEY_LENGTH = 250
MAX_VALUE_LENGTH = 5000
MAX_PARAM_VALUE_LENGTH = 250
MAX_RUN_NAME_LENGTH = 255  # `ml_candidates.name` (`add_text_limit` in GitLab's migrations)
ELLIPSIS = "..."

# Written by `upload --run` and `run --artifacts`: the run's outputs package (packages/)
PACKAGE_NAME = "mlflow-gitlab.package.name"
PACKAGE_VERSION = "mlflow-gitlab.package.version"
PACKAGE_URL = "mlflow-gitlab.package.url"  # the manifest's download URL
# Written by the relay for MLflow 3's inputs, outputs and logged models (relay/)
DATASET_PREFIX = "mlflow-gitlab.dataset."
MODEL_INPUT_PREFIX = "mlflow-gitlab.model_input."
MODEL_OUTPUT_PREFIX = "mlflow-gitlab.model_output."
CONTEXT_TAG = "mlflow.data.context"  # MLflow's own input tag for train/eval/...
MODEL_RECORD_PREFIX = "mlflow-gitlab.model."  # the relay's MLflow 3 model records
# On model versions: GitLab numbers a version by it (tracking/registry.py)
VERSION_TAG = "gitlab.version"  # sets the semver at creation

JOB_ID = "gitlab.CI_JOB_ID"  # GitLab links the run to this job in its UI
PIPELINE_ID = "gitlab.CI_PIPELINE_ID"
PIPELINE_IID = "gitlab.CI_PIPELINE_IID"
PIPELINE_SOURCE = "gitlab.CI_PIPELINE_SOURCE"
PIPELINE_URL = "gitlab.CI_PIPELINE_URL"
PIPELINE_KIND = "gitlab.pipeline_kind"
# A child pipeline's parent, as its trigger passed it down (context/gitlab_ci.py)
PARENT_PIPELINE_ID = "gitlab.PARENT_PIPELINE_ID"
MERGE_REQUEST_IID = "gitlab.CI_MERGE_REQUEST_IID"
MERGE_REQUEST_EVENT = "gitlab.CI_MERGE_REQUEST_EVENT_TYPE"
TARGET_BRANCH = "gitlab.CI_MERGE_REQUEST_TARGET_BRANCH_NAME"
REF_NAME = "gitlab.CI_COMMIT_REF_NAME"
COMMIT_TAG = "gitlab.CI_COMMIT_TAG"
JOB_NAME = "gitlab.CI_JOB_NAME"
JOB_STAGE = "gitlab.CI_JOB_STAGE"
JOB_URL = "gitlab.CI_JOB_URL"
PROJECT_PATH = "gitlab.CI_PROJECT_PATH"
NODE_INDEX = "gitlab.CI_NODE_INDEX"
NODE_TOTAL = "gitlab.CI_NODE_TOTAL"
MATRIX_PREFIX = "gitlab.matrix."
GIT_COMMIT = "mlflow.source.git.commit"
GIT_BRANCH = "mlflow.source.git.branch"
GIT_REPO_URL = "mlflow.source.git.repoURL"
GIT_DIRTY = "mlflow-gitlab.git.dirty"
SOURCE_NAME = "mlflow.source.name"
SOURCE_TYPE = "mlflow.source.type"
USER = "mlflow.user"
RUN_NAME = "mlflow.runName"
PARENT_RUN_ID = "mlflow.parentRunId"
RUN_ROLE = "mlflow-gitlab.role"  # "pipeline" on a pipeline's parent run, "job" on job runs
CREATE_ID = "mlflow-gitlab.create-id"  # made by the helper: finds a run whose answer was lost


def tags_for(context: CIContext, redactor: Redactor | None = None) -> dict[str, str]:
    """The run tags describing `context`; empty facts are left out.

    Every value passes through `redactor` (known secrets and token shapes masked, URL
    credentials removed) and is cut to GitLab's limit.
    """
    redactor = redactor or Redactor.from_env()
    c = context
    mr = c.merge_request
    raw: dict[str, object] = {
        JOB_ID: c.job.id,
        JOB_NAME: c.job.name,
        JOB_STAGE: c.job.stage,
        JOB_URL: c.job.url,
        PIPELINE_ID: c.pipeline.id,
        PIPELINE_IID: c.pipeline.iid,
        PIPELINE_SOURCE: c.pipeline.source,
        PIPELINE_URL: c.pipeline.url,
        PIPELINE_KIND: c.pipeline.kind.value if c.in_ci else None,
        PARENT_PIPELINE_ID: c.pipeline.parent_pipeline_id,
        MERGE_REQUEST_IID: mr.iid if mr else None,
        MERGE_REQUEST_EVENT: mr.event_type if mr else None,
        TARGET_BRANCH: mr.target_branch if mr else None,
        REF_NAME: c.commit.ref,
        COMMIT_TAG: c.commit.tag,
        PROJECT_PATH: c.project.path,
        NODE_INDEX: c.job.node_index,
        NODE_TOTAL: c.job.node_total if c.job.node_index else None,
        GIT_COMMIT: c.commit.sha,
        GIT_BRANCH: c.commit.branch,
        GIT_REPO_URL: c.commit.remote_url,
        GIT_DIRTY: None if c.commit.dirty is None else str(c.commit.dirty).lower(),
        SOURCE_NAME: c.job.url or c.commit.remote_url,
        SOURCE_TYPE: "JOB" if c.in_ci else None,
        USER: c.user.login,
    }
    for key, value in c.job.matrix:
        raw[MATRIX_PREFIX + key] = value
    return {fit_key(k): fit_value(redactor.redact(str(v)))
            for k, v in raw.items() if v not in (None, "")}


def fit_value(value: str, limit: int = MAX_VALUE_LENGTH) -> str:
    """Cut `value` to `limit` characters, marking the cut."""
    return value if len(value) <= limit else value[: limit - len(ELLIPSIS)] + ELLIPSIS


def fit_key(key: str) -> str:
    return key[:MAX_KEY_LENGTH]


def check_params(params: Mapping[str, str]) -> None:
    """Refuse a parameter GitLab would not store whole, before any run exists on it.

    Raises:
        ConfigError: a name or value longer than GitLab's 250 characters.
    """
    for key, value in params.items():
        for what, text, limit in (("name", key, MAX_KEY_LENGTH),
                                  ("value", value, MAX_PARAM_VALUE_LENGTH)):
            if len(text) > limit:
                shown = key if len(key) <= 40 else key[:37] + ELLIPSIS
                raise ConfigError(f"--param {shown}: its {what} has {len(text)} characters; "
                                  f"GitLab keeps at most {limit}",
                                  hint="shorten it, or log it as a tag (up to 5,000 "
                                       "characters) or an artifact")


def run_name(context: CIContext) -> str | None:
    """A readable run name: `train [lr=0.1, optimizer=adam]`, or the job name, cut to the
    255 characters GitLab keeps (it refuses a longer one and makes no run)."""
    job = context.job
    if not job.name:
        return None
    if job.matrix:
        values = ", ".join(f"{k}={v}" for k, v in job.matrix)
        return fit_value(f"{job.base_name} [{values}]", MAX_RUN_NAME_LENGTH)
    return fit_value(job.name, MAX_RUN_NAME_LENGTH)


def check_run_name(name: str | None) -> None:
    """Refuse a `--run-name` that GitLab would not keep.

    Raises:
        ConfigError: `name` is longer than its 255 characters.
    """
    if name is not None and len(name) > MAX_RUN_NAME_LENGTH:
        raise ConfigError(f"--run-name has {len(name)} characters; GitLab keeps at most "
                          f"{MAX_RUN_NAME_LENGTH}", hint="shorten it")
