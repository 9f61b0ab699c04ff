"""The seed: users and tokens for every auth case, a project, an MR, a pipeline with jobs.

Ids are deliberately far apart (project 7, pipeline 1001 with iid 1, MR id 301 with iid 1,
jobs 5001...) so that code mixing up an id and an iid fails against the sandbox too.
Seeding is idempotent: a restarted sandbox keeps its data and its tokens.
"""

from __future__ import annotations

import json
import secrets
from typing import Any

from mlflow_gitlab.sandbox.backend.projects import DEVELOPER, MAINTAINER, REPORTER
from mlflow_gitlab.sandbox.backend.store import Store, now

PROJECT_ID = 7
PROJECT_PATH = "ml-team/demo-project"
PIPELINE_ID = 1001
MERGE_REQUEST_ID = 301
SOURCE_BRANCH = "tune-learning-rate"
HEAD_SHA = "1f3e5c7a9b2d4f6e8a0c2e4a6b8d0f2a4c6e8b0d"
BASE_SHA = "0a2c4e6f8b0d2f4a6c8e0a2c4e6b8d0f2a4c6e8a"
JOBS = (  # id, name, stage, status
    (5001, "train: [0.01]", "train", "running"),
    (5002, "train: [0.1]", "train", "running"),
    (5003, "report", "report", "created"),
    (5004, "release", "release", "created"),
)
USERS = (  # key, id, username, name, role, token kind, scopes
    ("developer", 11, "dev", "Dana Developer", DEVELOPER, "personal", "api"),
    ("read_api", 12, "reader", "Rey Reader", DEVELOPER, "personal", "read_api"),
    ("reporter", 13, "reporter", "Remy Reporter", REPORTER, "personal", "api"),
    ("non_member", 14, "outsider", "Olli Outsider", None, "personal", "api"),
    ("maintainer", 15, f"project_{PROJECT_ID}_bot_ml", "ML bot", MAINTAINER, "project", "api"),
    ("read_user", 16, "profile-only", "Pat Profile", DEVELOPER, "personal", "read_user"),
)


def seed(store: Store) -> dict[str, Any]:
    """Create the seed once and return its description (the `ready` JSON minus URLs)."""
    existing = store.meta("seed")
    if existing is not None:
        return json.loads(existing)
    t = now()
    tokens: dict[str, str] = {}
    with store.tx() as db:
        db.execute("INSERT INTO projects (id, path, name, visibility, created_at) "
                   "VALUES (?, ?, ?, 'private', ?)", (PROJECT_ID, PROJECT_PATH, "demo-project", t))
        for key, user_id, username, name, role, kind, scopes in USERS:
            db.execute("INSERT INTO users (id, username, name, bot) VALUES (?, ?, ?, ?)",
                       (user_id, username, name, int(kind == "project")))
            if role is not None:
                db.execute("INSERT INTO members VALUES (?, ?, ?)", (PROJECT_ID, user_id, role))
            tokens[key] = _token("glpat-")
            db.execute("INSERT INTO tokens (value, user_id, kind, scopes, label) "
                       "VALUES (?, ?, ?, ?, ?)", (tokens[key], user_id, kind, scopes, key))
        developer = USERS[0][1]
        db.execute(
            "INSERT INTO merge_requests (id, project_id, iid, title, description, state, "
            "source_branch, target_branch, source_project_id, target_project_id, labels, sha, "
            "base_sha, start_sha, author_id, created_at, updated_at) "
            "VALUES (?, ?, 1, ?, ?, 'opened', ?, 'main', ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (MERGE_REQUEST_ID, PROJECT_ID, "Tune the learning rate",
             "Try two learning rates.", SOURCE_BRANCH, PROJECT_ID, PROJECT_ID,
             json.dumps(["ml", "model::minor"]), HEAD_SHA, BASE_SHA, BASE_SHA, developer, t, t))
        db.execute(
            "INSERT INTO pipelines (id, project_id, iid, sha, ref, status, source, user_id, "
            "created_at, updated_at, started_at) VALUES (?, ?, 1, ?, ?, 'running', "
            "'merge_request_event', ?, ?, ?, ?)",
            (PIPELINE_ID, PROJECT_ID, HEAD_SHA, "refs/merge-requests/1/head", developer, t, t, t))
        for job_id, name, stage, status in JOBS:
            db.execute(
                "INSERT INTO jobs (id, project_id, pipeline_id, name, stage, status, ref, "
                "user_id, created_at, started_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (job_id, PROJECT_ID, PIPELINE_ID, name, stage, status,
                 "refs/merge-requests/1/head", developer, t, t if status == "running" else None))
            job_token = _token("glcbt-")
            db.execute("INSERT INTO tokens (value, user_id, kind, job_id, label) "
                       "VALUES (?, ?, 'job', ?, ?)", (job_token, developer, job_id, name))
            if job_id == JOBS[0][0]:
                tokens["job"] = job_token
        info = {
            "project_id": PROJECT_ID,
            "project_path": PROJECT_PATH,
            "merge_request_iid": 1,
            "pipeline_id": PIPELINE_ID,
            "job_ids": [job[0] for job in JOBS],
            "tokens": tokens,
        }
        db.execute("INSERT INTO meta VALUES ('seed', ?)", (json.dumps(info),))
    return info


def admin_token(store: Store) -> str:
    """The token of the sandbox's control routes (`/-/sandbox/...`), made once per data folder.

    Kept apart from the seed so a data folder made by an older sandbox gets one too.
    """
    existing = store.meta("admin_token")
    if existing is not None:
        return existing
    token = _token("glsandbox-")
    with store.tx() as db:
        db.execute("INSERT OR IGNORE INTO meta VALUES ('admin_token', ?)", (token,))
    return store.meta("admin_token") or token


def _token(prefix: str) -> str:
    return prefix + secrets.token_urlsafe(20)
