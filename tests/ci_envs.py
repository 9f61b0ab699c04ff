"""Environments exactly as GitLab sets them for each pipeline kind."""

from __future__ import annotations

ZERO_SHA = "0" * 40
SHA = "a" * 40
SOURCE_SHA = "b" * 40
TARGET_SHA = "c" * 40
BASE_SHA = "d" * 40


def base(**overrides: str) -> dict[str, str]:
    """Variables present in every job of project 7 on gitlab.example.com."""
    env = {
        "CI": "true",
        "GITLAB_CI": "true",
        "CI_SERVER_URL": "https://gitlab.example.com",
        "CI_API_V4_URL": "https://gitlab.example.com/api/v4",
        "CI_PROJECT_ID": "7",
        "CI_PROJECT_PATH": "ml-team/demo-project",
        "CI_PROJECT_URL": "https://gitlab.example.com/ml-team/demo-project",
        "CI_DEFAULT_BRANCH": "main",
        "CI_PIPELINE_ID": "1001",
        "CI_PIPELINE_IID": "1",
        "CI_PIPELINE_URL": "https://gitlab.example.com/ml-team/demo-project/-/pipelines/1001",
        "CI_JOB_ID": "5001",
        "CI_JOB_NAME": "train",
        "CI_JOB_STAGE": "train",
        "CI_JOB_URL": "https://gitlab.example.com/ml-team/demo-project/-/jobs/5001",
        "CI_JOB_TOKEN": "glcbt-64_jobtokenvalue000000000000",
        "CI_REGISTRY_PASSWORD": "glcbt-64_jobtokenvalue000000000000",
        "CI_REPOSITORY_URL": "https://gitlab-ci-token:glcbt-64_jobtokenvalue000000000000"
                             "@gitlab.example.com/ml-team/demo-project.git",
        "CI_NODE_TOTAL": "1",
        "CI_COMMIT_SHA": SHA,
        "CI_COMMIT_SHORT_SHA": SHA[:8],
        "CI_COMMIT_TITLE": "Tune the learning rate",
        "CI_COMMIT_MESSAGE": "Tune the learning rate\n\nModel-Bump: minor",
        "CI_COMMIT_BEFORE_SHA": ZERO_SHA,
        "GITLAB_USER_LOGIN": "dev",
        "GITLAB_USER_NAME": "Dana Developer",
        "GITLAB_USER_ID": "11",
        "CI_RUNNER_ID": "3",
        "CI_RUNNER_DESCRIPTION": "shared runner",
        "CI_RUNNER_TAGS": "docker, linux",
    }
    env.update(overrides)
    return env


def branch(**overrides: str) -> dict[str, str]:
    return base(**{"CI_PIPELINE_SOURCE": "push", "CI_COMMIT_BRANCH": "main",
                   "CI_COMMIT_REF_NAME": "main", "CI_COMMIT_BEFORE_SHA": "e" * 40, **overrides})


def tag(**overrides: str) -> dict[str, str]:
    return base(**{"CI_PIPELINE_SOURCE": "push", "CI_COMMIT_TAG": "v1.2.0",
                   "CI_COMMIT_REF_NAME": "v1.2.0", **overrides})


def schedule(**overrides: str) -> dict[str, str]:
    return base(**{"CI_PIPELINE_SOURCE": "schedule", "CI_COMMIT_BRANCH": "main",
                   "CI_COMMIT_REF_NAME": "main", **overrides})


def merge_request(event: str = "detached", **overrides: str) -> dict[str, str]:
    """An MR pipeline; `event` is detached, merged_result or merge_train."""
    env = base(
        CI_PIPELINE_SOURCE="merge_request_event",
        CI_COMMIT_REF_NAME="tune-learning-rate",
        CI_MERGE_REQUEST_IID="1",
        CI_MERGE_REQUEST_ID="301",
        CI_MERGE_REQUEST_TITLE="Tune the learning rate",
        CI_MERGE_REQUEST_LABELS="ml,model::minor",
        CI_MERGE_REQUEST_SOURCE_BRANCH_NAME="tune-learning-rate",
        CI_MERGE_REQUEST_TARGET_BRANCH_NAME="main",
        CI_MERGE_REQUEST_DIFF_BASE_SHA=BASE_SHA,
        CI_MERGE_REQUEST_EVENT_TYPE=event,
        CI_MERGE_REQUEST_PROJECT_ID="7",
        CI_MERGE_REQUEST_PROJECT_PATH="ml-team/demo-project",
        CI_MERGE_REQUEST_SOURCE_PROJECT_ID="7",
        CI_MERGE_REQUEST_SOURCE_PROJECT_PATH="ml-team/demo-project",
        CI_OPEN_MERGE_REQUESTS="ml-team/demo-project!1",
    )
    if event in ("merged_result", "merge_train"):
        env["CI_MERGE_REQUEST_SOURCE_BRANCH_SHA"] = SOURCE_SHA
        env["CI_MERGE_REQUEST_TARGET_BRANCH_SHA"] = TARGET_SHA
    env.update(overrides)
    return env


def fork_merge_request(**overrides: str) -> dict[str, str]:
    """A fork MR pipeline: it runs in the fork (project 9), without the parent's secrets."""
    return merge_request(**{"CI_PROJECT_ID": "9", "CI_PROJECT_PATH": "contributor/demo-project",
                            "CI_MERGE_REQUEST_SOURCE_PROJECT_ID": "9",
                            "CI_MERGE_REQUEST_SOURCE_PROJECT_PATH": "contributor/demo-project",
                            **overrides})


def child(**overrides: str) -> dict[str, str]:
    """A child pipeline of an MR pipeline: source is always parent_pipeline."""
    return merge_request(**{"CI_PIPELINE_SOURCE": "parent_pipeline",
                            "PARENT_PIPELINE_ID": "1000", **overrides})


def matrix(**overrides: str) -> dict[str, str]:
    """One job of `train: parallel: matrix: [{LR: [0.01, 0.1], OPTIMIZER: [adam]}]`."""
    return merge_request(**{"CI_JOB_NAME": "train: [0.1, adam]", "CI_NODE_INDEX": "2",
                            "CI_NODE_TOTAL": "2", "LR": "0.1", "OPTIMIZER": "adam", **overrides})
