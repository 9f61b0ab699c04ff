"""A command run in the test process (`tests.cli`) answers as the same command in a process of
its own: exit code, stdout and stderr alike, for successes, usage errors, configuration
errors, server refusals and errors raised from a redacted secret."""

from __future__ import annotations

import re

import pytest

from tests.api.test_bad_input import BAD_TOKEN, SPACE, job, laptop
from tests.cli import mlflow_gitlab

RATE = re.compile(r"[\d.]+ [KMG]?i?B/s")  # upload speeds differ from one run to the next
CASES = {
    "version": (("--version",), laptop),
    "usage-error": (("upload",), laptop),
    "no-gitlab": (("upload", "model.pkl", "--package", "churn", "--version", "1.0.0"), laptop),
    "upload": (("upload", "model.pkl", "--package", "churn", "--version", "1.0.0"), job),
    "refused-token": (("download", "--package", "churn", "--version", "9.9.9"),
                      lambda sb: job(sb, MLFLOW_GITLAB_TOKEN=BAD_TOKEN)),
    "malformed-variable": (("upload", "model.pkl", "--package", "churn", "--version", "1.0.0"),
                           lambda sb: job(sb, MLFLOW_GITLAB_PARALLEL="many")),
    "tune-matrix": (("tune", "matrix", "--space", "space.yml"), laptop),
    "verbose-context": (("-v", "context", "--format", "json"), job),
}


@pytest.mark.parametrize("name", CASES)
def test_in_process_and_in_a_process_answer_alike(name, sandbox, api, tmp_path):
    args, environment = CASES[name]
    (tmp_path / "model.pkl").write_bytes(b"weights")
    (tmp_path / "space.yml").write_text(SPACE)
    answers = []
    for process in (True, False):
        if name == "upload":  # the second upload finds the file there already
            delete_packages(api)
        done = mlflow_gitlab(*args, env=environment(sandbox), cwd=tmp_path, process=process)
        answers.append((done.returncode, done.stdout, RATE.sub("<rate>", done.stderr)))
    assert answers[0] == answers[1]
    assert answers[0][1] or answers[0][2], "a case that prints nothing tells nothing"


def delete_packages(api) -> None:
    for package in api.request("GET", "/projects/7/packages?package_name=churn").json():
        api.request("DELETE", f"/projects/7/packages/{package['id']}",
                    token="maintainer").raise_for_status()
