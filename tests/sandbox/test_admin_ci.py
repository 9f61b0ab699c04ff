"""The sandbox's CI control routes: staging pipelines, jobs and MRs for tests and runners."""

from __future__ import annotations

PIPELINES = "/-/sandbox/pipelines"


def create(api, **fields):
    return api.admin("POST", PIPELINES, json=fields)


def test_create_pipeline_with_jobs_and_tokens(sandbox, api, gl):
    r = create(api, ref="main", sha="a" * 40, source="push", status="running",
               jobs=[{"name": "train", "stage": "train", "status": "running"},
                     {"name": "report", "stage": "report"}])
    assert r.status_code == 201
    body = r.json()
    assert set(body) == {"pipeline_id", "iid", "jobs"}
    assert body["iid"] == 2  # next per-project iid after the seed's pipeline
    assert [j["name"] for j in body["jobs"]] == ["train", "report"]
    assert all(j["token"] for j in body["jobs"])

    pipeline = gl.projects.get(7, lazy=True).pipelines.get(body["pipeline_id"])
    assert (pipeline.ref, pipeline.sha, pipeline.source, pipeline.status) == \
        ("main", "a" * 40, "push", "running")
    jobs = pipeline.jobs.list(get_all=True)
    assert {j.name: j.status for j in jobs} == {"train": "running", "report": "created"}

    train = body["jobs"][0]
    r = api.request("GET", "/job", token=train["token"], transport="job")
    assert (r.status_code, r.json()["id"], r.json()["pipeline"]["id"]) == \
        (200, train["id"], body["pipeline_id"])
    # A job that is not running has no live token.
    report = body["jobs"][1]
    assert api.request("GET", "/job", token=report["token"], transport="job").status_code == 401


def test_finishing_a_job_kills_its_token(api):
    body = create(api, jobs=[{"name": "train", "status": "running"}]).json()
    job = body["jobs"][0]
    mr = "/projects/7/merge_requests/1"
    assert api.request("GET", mr, token=job["token"], transport="job").status_code == 200
    r = api.admin("PUT", f"/-/sandbox/jobs/{job['id']}", json={"status": "success"})
    assert (r.status_code, r.json()) == (200, {"id": job["id"], "status": "success"})
    r = api.request("GET", mr, token=job["token"], transport="job")
    assert (r.status_code, r.json()) == (401, {"message": "401 Unauthorized"})
    finished = api.request("GET", f"/projects/7/jobs/{job['id']}").json()
    assert finished["status"] == "success"
    assert finished["finished_at"] is not None


def test_explicit_ids_user_and_finishing_the_pipeline(api):
    r = create(api, id=2001, user="maintainer", status="running",
               jobs=[{"id": 6001, "name": "a", "status": "running"}])
    assert r.status_code == 201
    assert (r.json()["pipeline_id"], r.json()["jobs"][0]["id"]) == (2001, 6001)
    r = api.admin("PUT", "/-/sandbox/pipelines/2001", json={"status": "success"})
    assert r.status_code == 200
    pipeline = api.request("GET", "/projects/7/pipelines/2001").json()
    assert pipeline["user"]["username"] == "project_7_bot_ml"
    assert pipeline["status"] == "success"
    assert isinstance(pipeline["duration"], int) and pipeline["duration"] >= 0
    assert pipeline["finished_at"] is not None


def test_invalid_requests(api):
    assert create(api, status="done").json() == {"error": "status does not have a valid value"}
    assert create(api, source="cron").status_code == 400
    assert create(api, user="nobody").status_code == 400
    assert create(api, jobs=[{"stage": "x"}]).status_code == 400
    assert create(api, id=1001).json() == {"error": "pipeline 1001 already exists"}
    assert create(api, jobs=[{"id": 5001, "name": "dup"}]).status_code == 400
    assert create(api, project_id=99).status_code == 404
    r = api.admin("PUT", "/-/sandbox/jobs/999", json={"status": "success"})
    assert (r.status_code, r.json()) == (404, {"message": "404 Job Not Found"})
    r = api.admin("PUT", "/-/sandbox/jobs/5001", json={"status": "finished"})
    assert r.status_code == 400


def test_failed_create_leaves_nothing_behind(sandbox, api):
    create(api, jobs=[{"name": "ok"}, {"name": "bad", "status": "nope"}])
    assert sandbox.app.store.one("SELECT COUNT(*) AS n FROM pipelines")["n"] == 1


def test_create_merge_request(sandbox, api, gl):
    r = api.admin("POST", "/-/sandbox/merge_requests",
                  json={"title": "Retrain", "source_branch": "retrain", "labels": "ml, retrain"})
    assert r.status_code == 201
    assert (r.json()["iid"], r.json()["id"]) == (2, 302)
    mr = gl.projects.get(7, lazy=True).mergerequests.get(2)
    assert (mr.title, mr.source_branch, mr.target_branch) == ("Retrain", "retrain", "main")
    assert mr.labels == ["ml", "retrain"]
    assert mr.author["username"] == "dev"
    assert mr.head_pipeline is None
    r = api.admin("POST", "/-/sandbox/merge_requests", json={"title": "x"})
    assert (r.status_code, r.json()) == (400, {"error": "source_branch is missing"})
