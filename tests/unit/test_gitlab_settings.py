"""Where GitLab is and which token to send: CI defaults, our overrides, errors naming variables."""

from __future__ import annotations

import pytest

from mlflow_gitlab.env import size as size_of
from mlflow_gitlab.errors import ConfigError
from mlflow_gitlab.settings import gitlab_settings, transfer_settings
from tests import ci_envs

ACCESS = "glpat-aaaaaaaaaaaaaaaaaaaa"


def test_a_job_uses_its_project_and_the_job_token():
    env = ci_envs.branch(MLFLOW_TRACKING_TOKEN=ACCESS)
    s = gitlab_settings(env)
    assert (s.api_url, s.project) == ("https://gitlab.example.com/api/v4", "7")
    assert s.job_token and s.token == env["CI_JOB_TOKEN"]
    assert s.token not in repr(s)


def test_mlflow_gitlab_variables_win():
    env = ci_envs.branch(MLFLOW_GITLAB_TOKEN=ACCESS, MLFLOW_GITLAB_URL="https://other.example/",
                         MLFLOW_GITLAB_PROJECT="group%2Fsub%2Fproj")
    s = gitlab_settings(env)
    assert (s.api_url, s.project, s.token_variable) == (
        "https://other.example/api/v4", "group/sub/proj", "MLFLOW_GITLAB_TOKEN")
    assert not s.job_token
    assert s.server_url == "https://other.example"


def test_outside_ci_a_gitlab_tracking_uri_and_token_are_enough():
    env = {"MLFLOW_TRACKING_URI": "https://gl.example/root/api/v4/projects/42/ml/mlflow",
           "MLFLOW_TRACKING_TOKEN": ACCESS}
    s = gitlab_settings(env)
    assert (s.api_url, s.project, s.token_variable) == (
        "https://gl.example/root/api/v4", "42", "MLFLOW_TRACKING_TOKEN")


def test_nothing_configured_is_none_when_optional_and_an_error_otherwise():
    assert gitlab_settings({"MLFLOW_TRACKING_URI": "http://127.0.0.1:5000"},
                           required=False) is None
    with pytest.raises(ConfigError, match="MLFLOW_GITLAB_URL is not set"):
        gitlab_settings({})


@pytest.mark.parametrize(("env", "variable"), [
    ({"MLFLOW_GITLAB_URL": "https://gl.example", "MLFLOW_GITLAB_TOKEN": ACCESS},
     "MLFLOW_GITLAB_PROJECT"),
    ({"MLFLOW_GITLAB_URL": "https://gl.example", "MLFLOW_GITLAB_PROJECT": "g/p"},
     "MLFLOW_GITLAB_TOKEN"),
    ({"MLFLOW_GITLAB_URL": "gl.example", "MLFLOW_GITLAB_PROJECT": "g/p",
      "MLFLOW_GITLAB_TOKEN": ACCESS}, "MLFLOW_GITLAB_URL"),
    ({**ci_envs.branch(), "MLFLOW_GITLAB_RETRY_ATTEMPTS": "many"},
     "MLFLOW_GITLAB_RETRY_ATTEMPTS"),
])
def test_errors_name_the_variable_to_set(env, variable):
    with pytest.raises(ConfigError) as info:
        gitlab_settings(env)
    assert variable in f"{info.value} {info.value.hint}"


@pytest.mark.parametrize(("text", "size"), [
    ("5368709120", 5 * 1024**3), ("5GiB", 5 * 1024**3), ("512M", 512 * 1024**2),
    ("64 MiB", 64 * 1024**2), ("100KB", 100 * 1024), ("0", 0), ("1tib", 1024**4)])
def test_sizes_take_binary_units(text, size):
    assert size_of(text, "X") == size


def test_transfer_settings_from_env_and_flags():
    assert transfer_settings({}).max_file_size == 5 * 1024**3
    env = {"MLFLOW_GITLAB_PARALLEL": "8", "MLFLOW_GITLAB_MAX_FILE_SIZE": "1GiB"}
    assert transfer_settings(env) == transfer_settings({}, parallel=8, max_file_size="1GiB")
    with pytest.raises(ConfigError, match="MLFLOW_GITLAB_MAX_FILE_SIZE='5 gigs'"):
        transfer_settings({"MLFLOW_GITLAB_MAX_FILE_SIZE": "5 gigs"})
