"""Tags from a context: the documented names, GitLab's limits, and no secret ever copied."""

from __future__ import annotations

from mlflow_gitlab import tags as t
from mlflow_gitlab.context import collect_context
from mlflow_gitlab.redaction import Redactor, strip_url_credentials
from tests import ci_envs


def tags_of(env):
    return t.tags_for(collect_context(env), Redactor.from_env(env))


def test_branch_job_tags():
    tags = tags_of(ci_envs.branch())
    assert tags[t.JOB_ID] == "5001"
    assert tags[t.PIPELINE_ID] == "1001"
    assert tags[t.PIPELINE_IID] == "1"
    assert tags[t.PIPELINE_SOURCE] == "push"
    assert tags[t.PIPELINE_KIND] == "branch"
    assert tags[t.REF_NAME] == "main"
    assert tags[t.JOB_NAME] == "train"
    assert tags[t.JOB_URL].endswith("/-/jobs/5001")
    assert tags[t.PROJECT_PATH] == "ml-team/demo-project"
    assert tags[t.GIT_COMMIT] == ci_envs.SHA
    assert tags[t.GIT_BRANCH] == "main"
    assert tags[t.GIT_REPO_URL] == "https://gitlab.example.com/ml-team/demo-project"
    assert tags[t.SOURCE_TYPE] == "JOB"
    assert tags[t.SOURCE_NAME] == tags[t.JOB_URL]
    assert tags[t.USER] == "dev"
    assert t.MERGE_REQUEST_IID not in tags
    assert t.PARENT_PIPELINE_ID not in tags


def test_a_child_pipelines_runs_name_the_parent_pipeline():
    tags = tags_of(ci_envs.child())
    assert (tags[t.PIPELINE_KIND], tags[t.PARENT_PIPELINE_ID]) == ("parent_pipeline", "1000")


def test_a_run_name_is_cut_to_the_255_characters_gitlab_keeps():
    env = ci_envs.matrix(CI_JOB_NAME=f"train: [{'x' * 300}, adam]", LR="x" * 300)
    name = t.run_name(collect_context(env))
    assert len(name) == 255 and name.startswith("train [LR=xxx") and name.endswith("...")


def test_merge_request_and_matrix_tags():
    tags = tags_of(ci_envs.matrix())
    assert tags[t.MERGE_REQUEST_IID] == "1"
    assert tags[t.TARGET_BRANCH] == "main"
    assert tags["gitlab.matrix.LR"] == "0.1"
    assert tags["gitlab.matrix.OPTIMIZER"] == "adam"
    assert tags[t.NODE_INDEX] == "2"


def test_no_token_value_is_ever_copied():
    token = "glpat-abcdefghijklmnopqrst"
    env = ci_envs.branch(
        CI_COMMIT_TITLE=f"oops, pasted {token} here",
        CI_JOB_NAME="train with CI_JOB_TOKEN glcbt-64_jobtokenvalue000000000000",
        CI_PROJECT_URL="https://gitlab-ci-token:hunter2hunter2@gitlab.example.com/p",
        MY_SECRET="supersecretvalue", GITLAB_USER_LOGIN="supersecretvalue-user",
    )
    values = " ".join(tags_of(env).values())
    for secret in (token, "glcbt-64_jobtokenvalue000000000000", "hunter2hunter2",
                   "supersecretvalue"):
        assert secret not in values


def test_values_are_cut_to_gitlabs_limit():
    tags = tags_of(ci_envs.branch(CI_JOB_NAME="x" * 6000))
    assert len(tags[t.JOB_NAME]) == t.MAX_VALUE_LENGTH
    assert tags[t.JOB_NAME].endswith("...")


def test_local_context_has_no_gitlab_tags(tmp_path):
    tags = t.tags_for(collect_context({"USER": "me"}, cwd=tmp_path), Redactor())
    assert tags == {t.USER: "me"}


def test_run_names_are_readable():
    assert t.run_name(collect_context(ci_envs.matrix())) == "train [LR=0.1, OPTIMIZER=adam]"
    assert t.run_name(collect_context(ci_envs.branch())) == "train"


def test_strip_url_credentials():
    assert strip_url_credentials("https://u:p@h/x.git") == "https://h/x.git"
    assert strip_url_credentials("git@gitlab.com:g/p.git") == "git@gitlab.com:g/p.git"
    assert strip_url_credentials("https://h/x") == "https://h/x"
