"""The suite-wide leak check itself must be able to fail: in what a sandbox stored, in what a
command printed, in a file a test's run wrote. Each test calls the scan directly, on data
outside its own tmp_path, so the real after-test scan stays clean."""

from __future__ import annotations

import base64
import json
import secrets
from urllib.parse import quote

import requests

from mlflow_gitlab.sandbox import running_sandbox
from tests.cli import record
from tests.secrets_scan import MAX_FILE_BYTES, Needles, allow, find_leaks, scan


def test_a_token_in_a_run_tag_or_a_file_is_found(sandbox, mlflow_client, api):
    token = sandbox.tokens["developer"]
    experiment_id = mlflow_client.create_experiment("leaky")
    mlflow_client.create_run(experiment_id, tags={"note": f"oops {token}"})
    api.request("PUT", "/projects/7/packages/generic/leak/1.0.0/env.txt", data=token.encode())
    assert find_leaks(sandbox) == ["candidate_tags.value", "file env.txt"]
    # clean up so the after-test scan passes
    sandbox.app.store.all("DELETE FROM candidate_tags WHERE value LIKE 'oops %'")
    sandbox.app.store.all("DELETE FROM package_files")
    assert find_leaks(sandbox) == []


def test_a_token_is_found_inside_other_text_never_from_a_part_of_it():
    needles = Needles(["glpat-abcdefghijklmnopqrstu", "hunter2 hunter2", "short"])
    assert needles.found_in(b"https://oauth2:glpat-abcdefghijklmnopqrstu@gitlab.example.com")
    assert needles.found_in("password=hunter2 hunter2;")
    assert not needles.found_in("glpat-abcdefghijklmnopqrst")  # one character short
    assert not needles.found_in("a short value")  # too short to be a token
    assert needles.mask("Bearer glpat-abcdefghijklmnopqrstu") == "Bearer [MASKED]"


def test_a_token_is_found_in_basic_auth_credentials():
    token = "glcbt-64_abcdefghijklmnopqrstu"
    needles = Needles([token])

    def basic(user: str, password: str = token) -> str:
        return base64.b64encode(f"{user}:{password}".encode()).decode()

    # GitLab's own user names anywhere, as docker's config.json keeps them (no "Basic").
    assert needles.found_in(json.dumps({"auths": {"reg": {"auth": basic("gitlab-ci-token")}}}))
    assert needles.found_in(f"remote = {basic('oauth2')}\n")
    # Any user name after "Basic", whatever the length (so the alignment) of the name.
    for user in ("m", "me", "dev", "someone"):
        assert needles.found_in(f"Authorization: Basic {basic(user)}\r\n"), user
    assert not needles.found_in(f"Authorization: Basic {basic('dev', token[:-1])}")
    assert not needles.found_in("Authorization: Basic !!not base64")


def test_a_printed_token_is_found_and_the_report_does_not_show_it(sandbox, tmp_path_factory):
    token = sandbox.tokens["job"]
    printed = [("upload outputs", "uploaded 2/2\n"),
               ("run -- python train.py", f"debug: JOB-TOKEN={token}\n"),
               (f"report --token {token}", "note created\n"),
               ("sync", b"binary \xff".decode(errors="replace") + f"x{token}y")]
    leaks = scan(tmp_path_factory.mktemp("clean"), printed)
    assert leaks == ["output of `run -- python train.py`", "output of `sync`"]
    assert not any(token in leak for leak in leaks)


def test_tokens_given_in_the_environment_are_looked_for(tmp_path_factory):
    token = "glpat-" + secrets.token_urlsafe(20)  # no sandbox issued it
    record(("context",), env={"PATH": "/bin", "MLFLOW_GITLAB_TOKEN": token})  # prints nothing
    printed = [("context", f"Authorization: Bearer {token}")]
    assert scan(tmp_path_factory.mktemp("clean"), printed) == ["output of `context`"]


def test_a_token_in_a_written_file_is_found_but_not_in_the_sandbox_data(tmp_path_factory):
    root = tmp_path_factory.mktemp("job")
    with running_sandbox(root / "sandbox-data") as sb:  # its tokens: only in its data dir
        token = sb.tokens["developer"]
        r = requests.put(f"{sb.api_url}/projects/7/packages/generic/m/1/ok.txt", data=b"fine",
                         headers={"PRIVATE-TOKEN": token}, timeout=30)
        assert r.status_code == 201, r.text
    (root / "outputs").mkdir()
    (root / "outputs" / "model.pkl").write_bytes(b"\x80\x04" + token.encode() + b"\x94.")
    (root / "report.md").write_text("# Report\nall good\n")
    (root / "run.env").write_text(f"MLFLOW_RUN_ID=abc\nMLFLOW_TRACKING_TOKEN={token}\n")
    (root / "child-env.json").write_text(f'{{"CI_JOB_TOKEN": "{sb.tokens["job"]}"}}')
    allow(root / "child-env.json")  # a test's own dump, by design
    with open(root / "huge.bin", "wb") as huge:  # sparse: benchmark data, skipped
        huge.write(token.encode())
        huge.truncate(MAX_FILE_BYTES + 1)
    assert scan(root, []) == ["file run.env", "file outputs/model.pkl"]


def test_what_a_sandbox_stored_is_scanned_after_it_stopped(tmp_path_factory):
    root = tmp_path_factory.mktemp("job")
    with running_sandbox(root / "data") as sb:
        r = requests.put(f"{sb.api_url}/projects/7/packages/generic/m/1/env.txt",
                         data=f"TOKEN={sb.tokens['job']}".encode(),
                         headers={"PRIVATE-TOKEN": sb.tokens["developer"]}, timeout=30)
        assert r.status_code == 201, r.text
    assert scan(root, []) == ["sandbox data: file env.txt"]


def test_a_token_is_found_stripped_percent_encoded_and_base64_alone():
    token = "Xy7Pq/K93+mA2bLz0c1Q"  # no token shape: only the value itself gives it away
    needles = Needles([f"{token}\n"])  # as given, with `echo`'s newline
    assert needles.found_in(f"error: {token} refused")
    assert needles.found_in(f"http://oauth2:{quote(token, safe='')}@gitlab.example.com/")
    assert needles.found_in("".join(f"%{byte:02x}" for byte in token.encode()))
    assert needles.found_in(base64.b64encode(token.encode() + b"\n"))
    assert needles.found_in(base64.urlsafe_b64encode(token.encode()))
    assert not needles.found_in(quote(token[:-1], safe=""))
