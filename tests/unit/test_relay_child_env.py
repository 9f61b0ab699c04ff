"""What `mlflow-gitlab run` gives its command when it tracks through the relay."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlflow_gitlab.run.relay_session import child_environment

GITLAB = "https://gitlab.example.com/api/v4/projects/42/ml/mlflow"
RELAY = "http://127.0.0.1:5005"


def child(**env: str) -> dict[str, str]:
    return child_environment({"MLFLOW_TRACKING_URI": GITLAB,
                              "MLFLOW_TRACKING_TOKEN": "glpat-secret", **env}, RELAY, GITLAB)


def test_the_command_tracks_through_the_relay_without_the_token_and_logs_synchronously():
    assert child(PATH="/bin") == {
        "PATH": "/bin", "MLFLOW_TRACKING_URI": RELAY, "MLFLOW_REGISTRY_URI": RELAY,
        "no_proxy": "127.0.0.1", "NO_PROXY": "127.0.0.1",
    }


@pytest.mark.parametrize("value", ["true", "1", "True"])
def test_async_logging_turned_on_gets_mlflows_batching(value):
    env = child(MLFLOW_ENABLE_ASYNC_LOGGING=value)
    assert env["MLFLOW_ENABLE_ASYNC_LOGGING"] == value
    assert env["MLFLOW_ASYNC_LOGGING_BUFFERING_SECONDS"] == "1"


def test_the_users_own_async_settings_win_and_empty_ones_count_as_unset():
    env = child(MLFLOW_ENABLE_ASYNC_LOGGING="true", MLFLOW_ASYNC_LOGGING_BUFFERING_SECONDS="5")
    assert env["MLFLOW_ASYNC_LOGGING_BUFFERING_SECONDS"] == "5"
    assert "MLFLOW_ASYNC_LOGGING_BUFFERING_SECONDS" not in child(
        MLFLOW_ENABLE_ASYNC_LOGGING="false")
    # MLflow fails on empty values (an empty buffering kills its logging thread, and
    # end_run then waits forever)
    env = child(MLFLOW_ENABLE_ASYNC_LOGGING="", MLFLOW_ASYNC_LOGGING_BUFFERING_SECONDS="")
    assert "MLFLOW_ENABLE_ASYNC_LOGGING" not in env
    assert "MLFLOW_ASYNC_LOGGING_BUFFERING_SECONDS" not in env
    env = child(MLFLOW_ENABLE_ASYNC_LOGGING="1", MLFLOW_ASYNC_LOGGING_BUFFERING_SECONDS="")
    assert env["MLFLOW_ASYNC_LOGGING_BUFFERING_SECONDS"] == "1"


def test_a_registry_elsewhere_is_kept_and_the_relayed_one_goes_through_the_relay():
    assert child(MLFLOW_REGISTRY_URI="databricks-uc")["MLFLOW_REGISTRY_URI"] == "databricks-uc"
    assert child(MLFLOW_REGISTRY_URI=GITLAB + "/")["MLFLOW_REGISTRY_URI"] == RELAY


def test_a_jobs_proxy_is_not_asked_to_reach_the_relay():
    env = child(NO_PROXY="gitlab.internal", HTTPS_PROXY="http://proxy:3128")
    assert env["NO_PROXY"] == "gitlab.internal,127.0.0.1"
    assert "no_proxy" not in env  # a lowercase one would hide NO_PROXY from some tools
    env = child(no_proxy="a, b", NO_PROXY="c")
    assert (env["no_proxy"], env["NO_PROXY"]) == ("a,b,127.0.0.1", "c,127.0.0.1")
    assert child(no_proxy="127.0.0.1")["no_proxy"] == "127.0.0.1"


def test_a_journal_is_named_for_the_store_plugin_and_a_parents_one_is_not_passed_on():
    outer = {"MLFLOW_GITLAB_JOURNAL_DIR": "/tmp/outer", "MLFLOW_GITLAB_JOURNAL_RELAY": "x"}
    env = child_environment({"MLFLOW_TRACKING_URI": GITLAB, **outer}, RELAY, GITLAB,
                            Path("/tmp/journal"))
    assert (env["MLFLOW_GITLAB_JOURNAL_DIR"], env["MLFLOW_GITLAB_JOURNAL_RELAY"]) == (
        "/tmp/journal", RELAY)
    env = child_environment({"MLFLOW_TRACKING_URI": GITLAB, **outer}, RELAY, GITLAB)
    assert not {"MLFLOW_GITLAB_JOURNAL_DIR", "MLFLOW_GITLAB_JOURNAL_RELAY"} & set(env)


JOB = "job-token-0123456789"
TOKENS = {"MLFLOW_GITLAB_TOKEN": "glpat-gitlab-token", "GITLAB_TOKEN": "glpat-other-token",
          "PRIVATE_TOKEN": "glpat-private-token", "MLFLOW_TRACKING_PASSWORD": "pass-word-1",
          "CI_JOB_TOKEN": JOB, "CI_REGISTRY_PASSWORD": JOB, "CI_DEPENDENCY_PROXY_PASSWORD": JOB,
          "CI_REPOSITORY_URL": f"https://gitlab-ci-token:{JOB}@gitlab.example.com/g/p.git"}


def test_the_command_gets_no_api_token_nor_a_variable_that_holds_one():
    env = child(PATH="/bin", CI_JOB_ID="7", **TOKENS)
    assert set(env) == {"PATH", "CI_JOB_ID", "MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI",
                        "no_proxy", "NO_PROXY"}
    assert not any(secret in value for secret in {*TOKENS.values(), "glpat-secret"}
                   for value in env.values())


def test_the_job_token_stays_when_asked_for_and_the_others_still_go():
    env = child_environment({"MLFLOW_TRACKING_TOKEN": "glpat-secret", **TOKENS}, RELAY,
                            GITLAB, keep=("CI_JOB_TOKEN",))
    assert {k: env[k] for k in env if JOB in env[k]} == {
        k: v for k, v in TOKENS.items() if JOB in v}
    assert not {"MLFLOW_TRACKING_TOKEN", "MLFLOW_GITLAB_TOKEN", "GITLAB_TOKEN"} & set(env)


def test_without_the_relay_the_command_keeps_only_the_tracking_token():
    from mlflow_gitlab.run.command_env import without_tokens

    env = without_tokens({**TOKENS, "MLFLOW_TRACKING_TOKEN": "glpat-same-token",
                          "MLFLOW_GITLAB_TOKEN": "glpat-same-token"},
                         keep=("MLFLOW_TRACKING_TOKEN",))
    assert env == {"MLFLOW_TRACKING_TOKEN": "glpat-same-token"}
