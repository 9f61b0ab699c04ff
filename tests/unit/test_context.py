"""CIContext from the environment GitLab sets for each pipeline kind, and from git outside CI."""

from __future__ import annotations

import subprocess

import pytest

from mlflow_gitlab.context import PipelineKind, collect_context
from mlflow_gitlab.context.gitlab_ci import matrix_values
from tests import ci_envs


@pytest.mark.parametrize(("env", "kind"), [
    (ci_envs.branch(), PipelineKind.BRANCH),
    (ci_envs.tag(), PipelineKind.TAG),
    (ci_envs.schedule(), PipelineKind.SCHEDULE),
    (ci_envs.merge_request("detached"), PipelineKind.MERGE_REQUEST),
    (ci_envs.merge_request("merged_result"), PipelineKind.MERGED_RESULT),
    (ci_envs.merge_request("merge_train"), PipelineKind.MERGE_TRAIN),
    (ci_envs.fork_merge_request(), PipelineKind.MERGE_REQUEST),
    (ci_envs.child(), PipelineKind.CHILD),
    (ci_envs.branch(CI_PIPELINE_SOURCE="web"), PipelineKind.WEB),
    (ci_envs.branch(CI_PIPELINE_SOURCE="api"), PipelineKind.API),
    (ci_envs.branch(CI_PIPELINE_SOURCE="trigger"), PipelineKind.TRIGGER),
    (ci_envs.branch(CI_PIPELINE_SOURCE="pipeline"), PipelineKind.MULTI_PROJECT),
    (ci_envs.base(CI_PIPELINE_SOURCE="ondemand_dast_scan"), PipelineKind.OTHER),
])
def test_pipeline_kinds(env, kind):
    assert collect_context(env).pipeline.kind is kind


def test_branch_pipeline_facts():
    ctx = collect_context(ci_envs.branch())
    assert ctx.in_ci
    assert (ctx.project.id, ctx.project.path) == (7, "ml-team/demo-project")
    assert (ctx.pipeline.id, ctx.pipeline.iid, ctx.pipeline.source) == (1001, 1, "push")
    assert (ctx.job.id, ctx.job.name, ctx.job.stage) == (5001, "train", "train")
    assert ctx.commit.branch == "main"
    assert ctx.commit.before_sha == "e" * 40
    assert ctx.merge_request is None
    assert ctx.user.login == "dev"
    assert ctx.runner.tags == ("docker", "linux")


def test_merge_request_facts():
    ctx = collect_context(ci_envs.merge_request())
    mr = ctx.merge_request
    assert mr is not None
    assert (mr.iid, mr.source_branch, mr.target_branch) == (1, "tune-learning-rate", "main")
    assert mr.labels == ("ml", "model::minor")
    assert mr.diff_base_sha == ci_envs.BASE_SHA
    assert not mr.from_fork
    # in MR pipelines CI_COMMIT_BRANCH is unset: the branch comes from the MR
    assert ctx.commit.branch == "tune-learning-rate"
    assert ctx.commit.before_sha is None  # all zeros means "unknown"


def test_merged_results_use_the_source_head_not_the_merge_commit():
    ctx = collect_context(ci_envs.merge_request("merged_result"))
    assert ctx.commit.sha == ci_envs.SOURCE_SHA
    assert ctx.merge_request.target_sha == ci_envs.TARGET_SHA


def test_fork_merge_request_is_recognised():
    ctx = collect_context(ci_envs.fork_merge_request())
    assert ctx.merge_request.from_fork
    assert ctx.merge_request.project_id == 7
    assert ctx.project.id == 9


def test_child_pipeline_keeps_the_parents_merge_request():
    ctx = collect_context(ci_envs.child())
    assert ctx.pipeline.kind is PipelineKind.CHILD
    assert ctx.merge_request.iid == 1
    assert ctx.pipeline.parent_pipeline_id == 1000


def test_a_parent_pipeline_id_counts_only_in_a_child_pipeline():
    # a project variable of that name in a branch pipeline names no parent
    assert collect_context(ci_envs.branch(PARENT_PIPELINE_ID="1000")).pipeline \
        .parent_pipeline_id is None


def test_matrix_job_values_are_named_by_their_variables():
    ctx = collect_context(ci_envs.matrix())
    assert ctx.job.base_name == "train"
    assert ctx.job.matrix == (("LR", "0.1"), ("OPTIMIZER", "adam"))
    assert (ctx.job.node_index, ctx.job.node_total) == (2, 2)


def test_matrix_keys_declared_by_the_component_win():
    env = ci_envs.matrix(MLFLOW_GITLAB_MATRIX_KEYS="LEARNING_RATE,OPT")
    assert collect_context(env).job.matrix == (("LEARNING_RATE", "0.1"), ("OPT", "adam"))


def test_ambiguous_matrix_value_gets_a_positional_name():
    env = ci_envs.matrix(OTHER_VAR="adam")
    assert collect_context(env).job.matrix == (("LR", "0.1"), ("matrix_1", "adam"))


@pytest.mark.parametrize(("name", "expected"), [
    ("train", ("train", ())),
    ("train 2/5", ("train", ())),
    ("train: [aws, app1]", ("train", ("aws", "app1"))),
    (None, (None, ())),
])
def test_matrix_values_from_job_names(name, expected):
    assert matrix_values(name) == expected


def test_project_url_credentials_are_stripped():
    env = ci_envs.branch(CI_PROJECT_URL="https://user:secret@gitlab.example.com/g/p")
    assert collect_context(env).commit.remote_url == "https://gitlab.example.com/g/p"


def test_empty_variables_count_as_unset():
    ctx = collect_context(ci_envs.merge_request(CI_MERGE_REQUEST_SOURCE_BRANCH_SHA=""))
    assert ctx.commit.sha == ci_envs.SHA


def _git(repo, *args):
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


@pytest.fixture
def git_repo(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "feature")
    _git(repo, "config", "user.email", "dev@example.com")
    _git(repo, "config", "user.name", "Dev")
    (repo / "train.py").write_text("print('hi')\n")
    _git(repo, "add", "train.py")
    _git(repo, "commit", "-q", "-m", "First commit")
    _git(repo, "remote", "add", "origin", "https://oauth2:glpat-abcdefghijklmnop@gitlab.example.com/g/p.git")
    return repo


def test_outside_ci_the_context_comes_from_git(git_repo):
    ctx = collect_context({"USER": "me"}, cwd=git_repo)
    assert not ctx.in_ci
    assert ctx.pipeline.kind is PipelineKind.LOCAL
    assert ctx.commit.branch == "feature"
    assert ctx.commit.title == "First commit"
    assert len(ctx.commit.sha) == 40
    assert ctx.commit.remote_url == "https://gitlab.example.com/g/p.git"
    assert ctx.commit.dirty is False
    (git_repo / "train.py").write_text("changed\n")
    assert collect_context({"USER": "me"}, cwd=git_repo).commit.dirty is True
    assert ctx.user.login == "me"


def test_outside_ci_and_outside_git_is_still_a_context(tmp_path):
    ctx = collect_context({}, cwd=tmp_path)
    assert ctx.commit.sha is None
    assert not ctx.in_ci


def test_as_dict_is_json_ready():
    import json

    data = collect_context(ci_envs.matrix()).as_dict()
    assert json.loads(json.dumps(data))["pipeline"]["kind"] == "merge_request"
