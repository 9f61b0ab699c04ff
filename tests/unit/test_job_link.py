"""Which GitLab can resolve a run's `gitlab.CI_JOB_ID`: the one that ran the job."""

from __future__ import annotations

import pytest

from mlflow_gitlab.context import collect_context
from mlflow_gitlab.tracking.job_link import linkable
from tests import ci_envs

TAGS = {"gitlab.CI_JOB_ID": "5001", "gitlab.CI_JOB_URL": "https://gitlab.example.com/-/jobs/5001"}


@pytest.mark.parametrize(("tracking_api", "linked"), [
    ("https://gitlab.example.com/api/v4", True),
    ("http://GITLAB.example.com:8080/gitlab/api/v4", True),  # same host, another way in
    ("https://mlflow.example.org/api/v4", False),
    ("https://user:secret@mlflow.example.org/api/v4", False),
    (None, True),  # a plain MLflow server: the tag is only a tag there
])
def test_the_job_link_stays_on_the_jobs_own_gitlab(tracking_api, linked, caplog):
    context = collect_context(ci_envs.branch())
    tags = linkable(TAGS, context, tracking_api)
    assert ("gitlab.CI_JOB_ID" in tags) is linked
    assert tags["gitlab.CI_JOB_URL"] == TAGS["gitlab.CI_JOB_URL"]
    assert "secret" not in caplog.text


def test_outside_ci_nothing_is_dropped():
    context = collect_context({"PATH": "/usr/bin"})
    assert linkable(TAGS, context, "https://mlflow.example.org/api/v4") == TAGS
