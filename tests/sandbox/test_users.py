"""`GET /user`: the token's own user (access tokens only; `read_user` is enough)."""

from __future__ import annotations


def test_the_current_user_is_the_tokens_user(api):
    r = api.request("GET", "/user", token="maintainer", transport="private")
    assert r.status_code == 200
    assert (r.json()["id"], r.json()["username"], r.json()["bot"]) == \
        (15, "project_7_bot_ml", True)
    assert api.request("GET", "/user", token="read_api").json()["username"] == "reader"


def test_job_tokens_and_anonymous_callers_get_401(api):
    for token, transport in (("job", "job"), (None, "private")):
        r = api.request("GET", "/user", token=token, transport=transport)
        assert (r.status_code, r.json()) == (401, {"message": "401 Unauthorized"})


def test_a_read_user_token_reads_its_user(api):
    """`allow_access_with_scope :read_user` for GETs in `lib/api/users.rb`."""
    r = api.request("GET", "/user", token="read_user")
    assert (r.status_code, r.json()["username"]) == (200, "profile-only")
    # elsewhere the scope is not enough
    assert api.request("GET", "/projects/7", token="read_user").status_code == 403
