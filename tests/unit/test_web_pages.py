"""GitLab's web pages of runs and experiments: the candidate iid in a run's `artifact_uri`,
and the project's web address from the tracking URI or the git remote."""

from __future__ import annotations

import pytest

from mlflow_gitlab.context.model import CIContext, Commit, Project
from mlflow_gitlab.context.remote import remote_project
from mlflow_gitlab.settings import TrackingSettings
from mlflow_gitlab.tracking.web_pages import candidate_iid, where_to_see

API = "https://gitlab.example.com/api/v4"


@pytest.mark.parametrize(("uri", "iid"), [
    (f"{API}/projects/7/packages/ml_models/candidate:12/files/", "12"),
    ("mlflow-artifacts:/candidate:3", "3"),
    (f"{API}/projects/7/packages/generic/ml_experiment_2/41/", "41"),
    (f"{API}/projects/7/packages/ml_models/9/files/", None),  # a model version's
    ("", None),
])
def test_the_candidate_iid_is_read_from_the_artifact_uri(uri, iid):
    assert candidate_iid(uri) == iid


@pytest.mark.parametrize(("remote", "expected"), [
    ("git@gitlab.example.com:team/sub/churn.git", ("gitlab.example.com", "team/sub/churn")),
    ("https://gitlab.example.com/team/churn.git", ("gitlab.example.com", "team/churn")),
    ("ssh://git@gitlab.example.com:2222/team/churn.git", ("gitlab.example.com", "team/churn")),
    ("/srv/git/churn.git", None),
    ("file:///srv/git/team/churn.git", None),
    (None, None),
])
def test_a_remote_names_its_host_and_project(remote, expected):
    assert remote_project(remote) == expected


def settings(project: str) -> TrackingSettings:
    return TrackingSettings(f"{API}/projects/{project}/ml/mlflow", "t", API, project)


JOB = CIContext(in_ci=True, project=Project(id=7, path="team/churn",
                                            url="https://gitlab.example.com/team/churn"),
                commit=Commit(remote_url="https://gitlab.example.com/team/churn.git"))
URI = f"{API}/projects/7/packages/ml_models/candidate:5/files/"


def test_a_job_links_its_run_in_its_own_project():
    assert where_to_see(settings("7"), JOB, "r1", "2", URI) == \
        "https://gitlab.example.com/team/churn/-/ml/candidates/5"


def test_a_job_tracking_to_another_project_by_id_links_nothing_rather_than_a_wrong_page():
    assert where_to_see(settings("99"), JOB, "r1", "2", URI) is None


def test_a_project_named_by_path_is_linked_and_an_unknown_iid_gives_the_experiment():
    page = where_to_see(settings("central%2Ftracking"), JOB, "r1", "2", "mlflow-artifacts:/4")
    assert page == "https://gitlab.example.com/central/tracking/-/ml/experiments/2 (run r1)"


def test_outside_ci_the_remote_on_the_same_host_gives_the_project():
    local = CIContext(in_ci=False, commit=Commit(remote_url="git@gitlab.example.com:t/c.git"))
    assert where_to_see(settings("7"), local, "r1", "2", URI) == \
        "https://gitlab.example.com/t/c/-/ml/candidates/5"
    elsewhere = CIContext(in_ci=False, commit=Commit(remote_url="git@github.com:t/c.git"))
    assert where_to_see(settings("7"), elsewhere, "r1", "2", URI) is None
