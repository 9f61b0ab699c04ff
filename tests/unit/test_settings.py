"""Where to track: defaults in a GitLab job, and errors that name the variable to set."""

from __future__ import annotations

import pytest

from mlflow_gitlab.errors import ConfigError
from mlflow_gitlab.settings import gitlab_settings, tracking_settings
from mlflow_gitlab.settings.urls import check_url
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


@pytest.mark.parametrize("url", [
    "https://gitlab.example.com", "http://127.0.0.1:8929/api/v4", "http://[::1]:80/",
    "https://gitlab.b\u00fccher.example/", "http://gitlab_ci:80"])
def test_usable_gitlab_urls_pass(url):
    check_url(url, "GitLab URL")


@pytest.mark.parametrize(("url", "message"), [
    ("notaurl", "GitLab URL 'notaurl' is not http(s)"),
    ("ftp://x", "GitLab URL 'ftp://x' is not http(s)"),
    ("http://", "GitLab URL 'http://' has no valid host name"),
    ("http://:80/", "GitLab URL 'http://:80/' has no valid host name"),
    ("http://h:99999", "GitLab URL 'http://h:99999' is not a valid URL (Port out of range "
                       "0-65535)"),
    ("http://h:8o", "GitLab URL 'http://h:8o' is not a valid URL (Port could not be cast to "
                    "integer value as '8o')"),
    ("http://h:0", "GitLab URL 'http://h:0' has port 0"),
    ("http://[::1", "GitLab URL 'http://[::1' is not a valid URL (Invalid IPv6 URL)"),
    ("http://h/\n", "GitLab URL 'http://h/\\n' has a space or a control character in it"),
    ("http://a b/", "GitLab URL 'http://a b/' has a space or a control character in it"),
])
def test_unusable_gitlab_urls_are_refused_in_one_line(url, message):
    with pytest.raises(ConfigError) as refused:
        check_url(url, "GitLab URL")
    assert str(refused.value) == message


def test_a_refused_url_never_shows_its_credentials():
    for url in ("http://oauth2:glpat-secret-value-000@[::1/x", "http://u:glpat-secret-000@h:99999"):
        with pytest.raises(ConfigError) as refused:
            check_url(url, "tracking URI", http_only=False)
        assert "glpat-secret" not in str(refused.value) and "oauth2" not in str(refused.value)


@pytest.mark.parametrize("uri", ["file:///tmp/mlruns", "sqlite:///m.db", "databricks",
                                 "postgresql+psycopg2://h/db"])
def test_local_stores_are_urls_but_no_tracking_server(uri):
    check_url(uri, "tracking URI", http_only=False)
    with pytest.raises(ConfigError, match="is not an http\\(s\\) tracking server"):
        tracking_settings({"MLFLOW_TRACKING_URI": uri})


def test_an_mlflow_server_passes():
    uri = "http://127.0.0.1:5000"
    assert tracking_settings({"MLFLOW_TRACKING_URI": uri}).tracking_uri == uri


@pytest.mark.parametrize(("uri", "message"), [
    ("notaurl", "tracking URI 'notaurl' is not a URL"),
    ("./mlruns", "tracking URI './mlruns' is not a URL"),
    ("htp://x", "tracking URI 'htp://x' has a scheme MLflow does not know (htp:)"),
])
def test_tracking_uris_mlflow_would_misread_are_refused(uri, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        tracking_settings({"MLFLOW_TRACKING_URI": uri})


def test_a_bad_url_names_the_variable_it_came_from():
    env = ci_envs.branch(CI_API_V4_URL="notaurl", MLFLOW_TRACKING_TOKEN="glpat-x" * 3)
    for read in (tracking_settings, gitlab_settings):
        with pytest.raises(ConfigError, match="'notaurl' from CI_API_V4_URL is not http"):
            read(env)
