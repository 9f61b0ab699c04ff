"""`GET /projects/:id/repository/commits/:sha/merge_requests` as `lib/api/commits.rb` and
its request spec describe it: the MRs of a commit (its own commits, merge or squash
commit), newest first, `state` filter, Reporter and job tokens, 404 for an unknown commit."""

from __future__ import annotations

from mlflow_gitlab.sandbox.seed import HEAD_SHA

MERGE_SHA = "5" * 40


def commit_mrs(api, sha: str, **kwargs):
    return api.request("GET", f"/projects/7/repository/commits/{sha}/merge_requests", **kwargs)


def merge(api, iid: int, **body) -> dict:
    r = api.admin("POST", f"/-/sandbox/merge_requests/{iid}/merge", json=body)
    assert r.status_code == 200, r.text
    return r.json()


def test_a_merged_mr_is_found_by_its_merge_commit_with_its_labels(api, gl):
    mr = merge(api, 1, merge_commit_sha=MERGE_SHA, user="dev")
    assert (mr["state"], mr["merge_commit_sha"], mr["merged_by"]["username"]) == (
        "merged", MERGE_SHA, "dev")
    assert mr["merged_at"] is not None
    r = commit_mrs(api, MERGE_SHA)
    assert r.status_code == 200, r.text
    (found,) = r.json()
    assert (found["iid"], found["labels"], found["state"]) == (1, ["ml", "model::minor"],
                                                               "merged")
    assert r.headers["X-Page"] == "1" and r.headers["X-Per-Page"] == "20"
    # python-gitlab's own call reads the same list, by the MR's head commit too
    commit = gl.projects.get(7, lazy=True).commits.get(HEAD_SHA, lazy=True)
    assert [m["iid"] for m in commit.merge_requests()] == [1]


def test_newest_first_state_filter_and_squash_commits(api):
    other = api.admin("POST", "/-/sandbox/merge_requests", json={
        "title": "Same head", "source_branch": "again", "sha": HEAD_SHA}).json()
    assert [m["iid"] for m in commit_mrs(api, HEAD_SHA).json()] == [other["iid"], 1]
    merge(api, 1, merge_commit_sha=MERGE_SHA, squash=True)
    assert [m["iid"] for m in commit_mrs(api, HEAD_SHA, params={"state": "merged"}).json()] \
        == [1]
    assert commit_mrs(api, MERGE_SHA).json()[0]["squash_commit_sha"] == MERGE_SHA
    assert len(commit_mrs(api, HEAD_SHA, params={"state": "bogus"}).json()) == 2


def test_a_short_sha_or_a_branch_name_names_the_commit(api):
    assert [m["iid"] for m in commit_mrs(api, HEAD_SHA[:8]).json()] == [1]
    assert [m["iid"] for m in commit_mrs(api, "tune-learning-rate").json()] == [1]


def test_an_unknown_commit_is_404(api):
    r = commit_mrs(api, "a7d26f00c35b")
    assert (r.status_code, r.json()) == (404, {"message": "404 Commit Not Found"})


def test_who_may_list_them(api, sandbox):
    assert commit_mrs(api, HEAD_SHA, token="read_api").status_code == 200
    assert commit_mrs(api, HEAD_SHA, token="job", transport="job").status_code == 200
    assert commit_mrs(api, HEAD_SHA, token=None).status_code == 404  # private project
    assert commit_mrs(api, HEAD_SHA, token="non_member").json() == {
        "message": "404 Project Not Found"}
    assert commit_mrs(api, HEAD_SHA, token="read_user").status_code == 403
