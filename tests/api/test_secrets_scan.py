"""The suite-wide leak check itself must be able to fail."""

from __future__ import annotations

from tests.secrets_scan import find_leaks


def test_a_token_in_a_run_tag_or_a_file_is_found(sandbox, mlflow_client, api):
    token = sandbox.tokens["developer"]
    experiment_id = mlflow_client.create_experiment("leaky")
    mlflow_client.create_run(experiment_id, tags={"note": f"oops {token}"})
    api.request("PUT", "/projects/7/packages/generic/leak/1.0.0/env.txt", data=token.encode())
    assert find_leaks(sandbox) == ["candidate_tags.value", "file env.txt"]
    # clean up so the fixture's own check passes
    sandbox.app.store.all("DELETE FROM candidate_tags WHERE value LIKE 'oops %'")
    sandbox.app.store.all("DELETE FROM package_files")
    assert find_leaks(sandbox) == []
