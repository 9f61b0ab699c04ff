"""Where to track: defaults in a GitLab job, and errors that name the variable to set."""

from __future__ import annotations

import pytest

from mlflow_gitlab.errors import ConfigError
from mlflow_gitlab.settings import tracking_settings
from tests import ci_envs


def test_gitlab_job_defaults_to_the_projects_mlflow_endpoint():
    env = ci_envs.branch(MLFLOW_TRACKING_TOKEN="glpat-xxxxxxxxxxxxxxxxxxxx")
    s = tracking_settings(env)
    assert s.tracking_uri == "https://gitlab.example.com/api/v4/projects/7/ml/mlflow"
    assert (s.gitlab_api_url, s.project) == ("https://gitlab.example.com/api/v4", "7")


def test_explicit_uri_wins_and_a_plain_mlflow_server_needs_no_token():
    s = tracking_settings(ci_envs.branch(MLFLOW_TRACKING_URI="http://127.0.0.1:5000"))
    assert s.tracking_uri == "http://127.0.0.1:5000"
    assert not s.is_gitlab


def test_missing_token_names_the_variable():
    with pytest.raises(ConfigError, match="MLFLOW_TRACKING_TOKEN is not set"):
        tracking_settings(ci_envs.branch())


def test_job_token_is_refused_with_a_clear_message():
    env = ci_envs.branch()
    env["MLFLOW_TRACKING_TOKEN"] = env["CI_JOB_TOKEN"]
    with pytest.raises(ConfigError, match="job token") as info:
        tracking_settings(env)
    assert env["CI_JOB_TOKEN"] not in str(info.value) + str(info.value.hint)


def test_nothing_configured_outside_ci():
    with pytest.raises(ConfigError, match="MLFLOW_TRACKING_URI is not set"):
        tracking_settings({})
