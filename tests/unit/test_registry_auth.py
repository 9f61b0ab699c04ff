"""The package registry's outcomes by visibility and caller, as GitLab's PyPI request spec
tables them (`spec/requests/api/pypi_packages_spec.rb`), checked without HTTP."""

from __future__ import annotations

import pytest

from mlflow_gitlab.sandbox import registry_auth, web
from mlflow_gitlab.sandbox.backend import deploy_tokens
from mlflow_gitlab.sandbox.backend.projects import GUEST as GUEST_ROLE
from mlflow_gitlab.sandbox.backend.store import Store
from mlflow_gitlab.sandbox.backend.tokens import Principal
from mlflow_gitlab.sandbox.seed import PROJECT_ID, seed

DEVELOPER, REPORTER, OUTSIDER = 11, 13, 14
GUEST = 17  # made a Guest below


@pytest.fixture
def store(tmp_path):
    store = Store(tmp_path)
    seed(store)
    with store.tx() as db:
        db.execute("INSERT INTO users (id, username, name) VALUES (?, 'guest', 'G')", (GUEST,))
        db.execute("INSERT INTO members VALUES (?, ?, ?)", (PROJECT_ID, GUEST, GUEST_ROLE))
    yield store
    store.close()


def user(user_id: int) -> Principal:
    return Principal(user_id, "u", "personal", frozenset({"api"}))


def outcome(store: Store, visibility: str, caller, check) -> int:
    with store.tx() as db:
        db.execute("UPDATE projects SET visibility = ?", (visibility,))
    project = store.one("SELECT * FROM projects WHERE id = ?", PROJECT_ID)
    try:
        check(registry_auth.access(store, project, caller))
    except web.ApiError as exc:
        return exc.response.status
    return 200


CALLERS = {"developer": lambda s: user(DEVELOPER), "reporter": lambda s: user(REPORTER),
           "guest": lambda s: user(GUEST), "non-member": lambda s: user(OUTSIDER),
           "anonymous": lambda s: None,
           "read deploy token": lambda s: deploy_tokens.DeployToken(
               "d", PROJECT_ID, frozenset({deploy_tokens.READ_PACKAGES}))}


@pytest.mark.parametrize(("visibility", "who", "read", "upload"), [
    ("public", "developer", 200, 200),
    ("public", "guest", 200, 403),
    ("public", "non-member", 200, 403),
    ("public", "anonymous", 200, 401),
    ("private", "developer", 200, 200),
    ("private", "reporter", 200, 403),
    ("private", "guest", 403, 403),
    ("private", "non-member", 404, 404),
    ("private", "anonymous", 401, 401),
    ("private", "read deploy token", 200, 403),
])
def test_outcomes_follow_gitlabs_spec_table(store, visibility, who, read, upload):
    caller = CALLERS[who](store)
    assert outcome(store, visibility, caller, registry_auth.check_read) == read
    assert outcome(store, visibility, caller, registry_auth.check_upload) == upload
