"""`mlflow-gitlab context` in each format, with no secret in its output."""

from __future__ import annotations

import json
import os
import shlex

import pytest
from click.testing import CliRunner

from mlflow_gitlab.cli.main import cli
from tests import ci_envs
from tests.cli import record


def invoke(*args: str, env: dict[str, str]):
    # CliRunner's env only adds to os.environ: clear it first, as in a fresh job.
    cleared: dict[str, str | None] = dict.fromkeys(os.environ)
    result = CliRunner().invoke(cli, list(args), env={**cleared, **env})
    record(args, result.output, env=env)  # in-process runs get the same secrets scan
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.parametrize("fmt", ["text", "json", "env", "tags"])
def test_formats_never_print_the_job_token(fmt):
    env = ci_envs.matrix(CI_COMMIT_TITLE="leaked glpat-aaaaaaaaaaaaaaaaaaaa")
    output = invoke("context", "--format", fmt, env=env)
    assert "glpat-aaaaaaaaaaaaaaaaaaaa" not in output  # a token-looking commit title
    assert "5001" in output


def test_json_is_the_whole_context():
    data = json.loads(invoke("context", "--format", "json", env=ci_envs.matrix()))
    assert data["pipeline"]["kind"] == "merge_request"
    assert data["job"]["matrix"] == [["LR", "0.1"], ["OPTIMIZER", "adam"]]
    assert data["merge_request"]["iid"] == 1


def test_tags_format_is_what_a_run_gets():
    tags = json.loads(invoke("context", "--format", "tags", env=ci_envs.branch()))
    assert tags["gitlab.CI_JOB_ID"] == "5001"
    assert tags["mlflow.source.type"] == "JOB"


def test_env_format_is_shell_quoted():
    output = invoke("context", "--format", "env", env=ci_envs.branch())
    values = dict(word.split("=", 1) for word in shlex.split(output))
    assert values["MLFLOW_GITLAB_CTX_JOB_ID"] == "5001"
    message = values["MLFLOW_GITLAB_CTX_COMMIT_MESSAGE"]
    assert message == "Tune the learning rate\n\nModel-Bump: minor"
