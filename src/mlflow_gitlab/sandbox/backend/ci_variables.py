"""The predefined CI/CD variables GitLab sets for a job, computed from the sandbox's records.

After GitLab's builders: the server's and the project's (`predefined_ci_server_variables`,
`predefined_project_variables` in `app/models/project.rb`), the job's
(`lib/gitlab/ci/variables/builder.rb`, `app/models/ci/build.rb`), the pipeline's
(`lib/gitlab/ci/variables/builder/pipeline.rb`), its merge request's
(`MergeRequest#predefined_variables`, `app/models/merge_request.rb`) and the user's
(`user_variables`). Left out: what needs a commit (message, title, author, timestamp), a
runner (`CI_RUNNER_*`, `CI_PROJECT_DIR`), an email, or a feature the sandbox lacks (container
registry, pages, environments, GraphQL); and every CI/CD variable a project defines, such as
`MLFLOW_TRACKING_TOKEN`.
"""

from __future__ import annotations

import json
import re
import sqlite3
import time
from urllib.parse import urlsplit

from mlflow_gitlab.sandbox.backend.errors import NotFound
from mlflow_gitlab.sandbox.backend.jobs import get_job, list_jobs
from mlflow_gitlab.sandbox.backend.pipelines import get_pipeline
from mlflow_gitlab.sandbox.backend.projects import get_project
from mlflow_gitlab.sandbox.backend.store import Store
from mlflow_gitlab.sandbox.backend.tokens import job_token
from mlflow_gitlab.sandbox.backend.users import get_user

_MR_REF = re.compile(r"refs/merge-requests/(\d+)/(head|merge|train)\Z")
_EVENT_TYPES = {"head": "detached", "merge": "merged_result", "train": "merge_train"}
# `Gitlab::Utils::Job.group_name`: a matrix (`: [a, b]`) or parallel (`1/3`) suffix.
_GROUP_SUFFIX = re.compile(r"([\s:]+((\[.*\])|(\d+[\s:/\\]+\d+))){1,3}\s*\Z")


def job_variables(store: Store, job_id: int, base_url: str) -> dict[str, str]:
    """The variables GitLab would set for job `job_id` of a sandbox served at `base_url`.

    Raises:
        NotFound: no such job (or its pipeline or project is gone).
    """
    job = get_job(store, job_id)
    pipeline = get_pipeline(store, job["pipeline_id"]) if job else None
    project = get_project(store, job["project_id"]) if job else None
    if job is None or pipeline is None or project is None:
        raise NotFound()
    base_url = base_url.rstrip("/")
    web = f"{base_url}/{project['path']}"
    mr, event = _merge_request(store, project["id"], pipeline["ref"])
    source_ref = mr["source_branch"] if mr is not None else pipeline["ref"]
    token = job_token(store, job_id) or ""
    env = {**_server(base_url), **_project(project, web)}
    env.update({
        "CI_PIPELINE_ID": str(pipeline["id"]), "CI_PIPELINE_IID": str(pipeline["iid"]),
        "CI_PIPELINE_SOURCE": pipeline["source"],
        "CI_PIPELINE_URL": f"{web}/-/pipelines/{pipeline['id']}",
        "CI_PIPELINE_CREATED_AT": _iso(pipeline["created_at"]),
        "CI_JOB_ID": str(job["id"]), "CI_JOB_NAME": job["name"],
        "CI_JOB_NAME_SLUG": slugify(job["name"]), "CI_JOB_GROUP_NAME": _group(job["name"]),
        "CI_JOB_STAGE": job["stage"], "CI_JOB_URL": f"{web}/-/jobs/{job['id']}",
        "CI_JOB_TOKEN": token,
        **_nodes(store, job),
        "CI_REPOSITORY_URL": _with_credentials(base_url, f"gitlab-ci-token:{token}")
                             + f"/{project['path']}.git",
        "CI_COMMIT_SHA": pipeline["sha"], "CI_COMMIT_SHORT_SHA": pipeline["sha"][:8],
        "CI_COMMIT_BEFORE_SHA": pipeline["before_sha"],
        "CI_COMMIT_REF_NAME": source_ref, "CI_COMMIT_REF_SLUG": slugify(source_ref),
    })
    if pipeline["name"]:
        env["CI_PIPELINE_NAME"] = pipeline["name"]
    if job["started_at"]:
        env["CI_JOB_STARTED_AT"] = _iso(job["started_at"])
    if pipeline["tag"]:
        env["CI_COMMIT_TAG"] = pipeline["ref"]
    elif mr is None and not pipeline["ref"].startswith("refs/"):
        env["CI_COMMIT_BRANCH"] = pipeline["ref"]
    if mr is not None:
        env.update(_merge_request_variables(store, mr, event, base_url))
    opened = _open_merge_requests(store, project, source_ref)
    if opened:
        env["CI_OPEN_MERGE_REQUESTS"] = opened
    env.update(_user(store, job["user_id"]))
    return env


def slugify(text: str) -> str:
    """`Gitlab::Utils.slugify`: lowercase, other characters `-`, 63 at most, no edge `-`."""
    return re.sub(r"[^a-z0-9]", "-", text.lower())[:63].strip("-")


def _server(base_url: str) -> dict[str, str]:
    parts = urlsplit(base_url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    default = port == (443 if parts.scheme == "https" else 80)
    return {
        "CI": "true", "GITLAB_CI": "true", "CI_SERVER_URL": base_url,
        "CI_SERVER_FQDN": parts.netloc if not default else (parts.hostname or ""),
        "CI_SERVER_HOST": parts.hostname or "", "CI_SERVER_PORT": str(port),
        "CI_SERVER_PROTOCOL": parts.scheme, "CI_SERVER_NAME": "GitLab",
        "CI_API_V4_URL": f"{base_url}/api/v4",
    }


def _project(project: sqlite3.Row, web: str) -> dict[str, str]:
    path = project["path"]
    namespace, _, name = path.rpartition("/")
    return {
        "CI_PROJECT_ID": str(project["id"]), "CI_PROJECT_NAME": name,
        "CI_PROJECT_TITLE": project["name"], "CI_PROJECT_PATH": path,
        "CI_PROJECT_PATH_SLUG": slugify(path), "CI_PROJECT_NAMESPACE": namespace,
        "CI_PROJECT_ROOT_NAMESPACE": path.split("/")[0], "CI_PROJECT_URL": web,
        "CI_PROJECT_VISIBILITY": project["visibility"],
        "CI_DEFAULT_BRANCH": project["default_branch"], "CI_CONFIG_PATH": ".gitlab-ci.yml",
    }


def _merge_request(store: Store, project_id: int, ref: str
                   ) -> tuple[sqlite3.Row | None, str]:
    """The MR a merge-request pipeline's ref names, and the pipeline's event type."""
    match = _MR_REF.match(ref)
    if match is None:
        return None, ""
    mr = store.one("SELECT * FROM merge_requests WHERE project_id = ? AND iid = ?",
                   project_id, int(match[1]))
    return mr, _EVENT_TYPES[match[2]]


def _merge_request_variables(store: Store, mr: sqlite3.Row, event: str, base_url: str
                             ) -> dict[str, str]:
    target = get_project(store, mr["target_project_id"])
    source = get_project(store, mr["source_project_id"]) or target
    target_path = target["path"] if target else ""
    source_path = source["path"] if source else ""
    labels = ",".join(_labels(mr["labels"]))
    merged = event != "detached"  # a detached pipeline has no source or target SHA
    env = {
        "CI_MERGE_REQUEST_EVENT_TYPE": event,
        "CI_MERGE_REQUEST_SOURCE_BRANCH_SHA": mr["sha"] if merged else "",
        "CI_MERGE_REQUEST_TARGET_BRANCH_SHA": mr["start_sha"] if merged else "",
        "CI_MERGE_REQUEST_DIFF_BASE_SHA": mr["base_sha"],
        "CI_MERGE_REQUEST_ID": str(mr["id"]), "CI_MERGE_REQUEST_IID": str(mr["iid"]),
        "CI_MERGE_REQUEST_REF_PATH": f"refs/merge-requests/{mr['iid']}/head",
        "CI_MERGE_REQUEST_PROJECT_ID": str(mr["target_project_id"]),
        "CI_MERGE_REQUEST_PROJECT_PATH": target_path,
        "CI_MERGE_REQUEST_PROJECT_URL": f"{base_url}/{target_path}",
        "CI_MERGE_REQUEST_TARGET_BRANCH_NAME": mr["target_branch"],
        "CI_MERGE_REQUEST_TITLE": mr["title"],
        "CI_MERGE_REQUEST_DESCRIPTION": mr["description"],
        "CI_MERGE_REQUEST_DRAFT": "true" if mr["draft"] else "false",
        "CI_MERGE_REQUEST_SOURCE_PROJECT_ID": str(mr["source_project_id"]),
        "CI_MERGE_REQUEST_SOURCE_PROJECT_PATH": source_path,
        "CI_MERGE_REQUEST_SOURCE_PROJECT_URL": f"{base_url}/{source_path}",
        "CI_MERGE_REQUEST_SOURCE_BRANCH_NAME": mr["source_branch"],
    }
    if labels:
        env["CI_MERGE_REQUEST_LABELS"] = labels
    return env


def _open_merge_requests(store: Store, project: sqlite3.Row, branch: str) -> str:
    """`CI_OPEN_MERGE_REQUESTS`: up to 4 open MRs from `branch`, as `path!iid`."""
    rows = store.all("SELECT iid FROM merge_requests WHERE source_project_id = ? AND "
                     "source_branch = ? AND state = 'opened' ORDER BY id LIMIT 4",
                     project["id"], branch)
    return ",".join(f"{project['path']}!{row['iid']}" for row in rows)


def _nodes(store: Store, job: sqlite3.Row) -> dict[str, str]:
    """`CI_NODE_TOTAL` (and `CI_NODE_INDEX`) of a `parallel` job: its group's size and rank."""
    group = _group(job["name"])
    if group == job["name"]:
        return {"CI_NODE_TOTAL": "1"}
    siblings = sorted(row["id"] for row in list_jobs(store, pipeline_id=job["pipeline_id"])
                      if _group(row["name"]) == group)
    return {"CI_NODE_INDEX": str(siblings.index(job["id"]) + 1),
            "CI_NODE_TOTAL": str(len(siblings))}


def _user(store: Store, user_id: int | None) -> dict[str, str]:
    user = get_user(store, user_id) if user_id else None
    if user is None:
        return {}
    return {"GITLAB_USER_ID": str(user["id"]), "GITLAB_USER_LOGIN": user["username"],
            "GITLAB_USER_NAME": user["name"]}


def _group(name: str) -> str:
    return _GROUP_SUFFIX.sub("", name).strip()


def _labels(stored: str) -> list[str]:
    try:
        labels = json.loads(stored or "[]")
    except ValueError:
        return []
    return [str(label) for label in labels] if isinstance(labels, list) else []


def _with_credentials(base_url: str, userinfo: str) -> str:
    scheme, _, rest = base_url.partition("://")
    return f"{scheme}://{userinfo}@{rest}"


def _iso(seconds: float) -> str:
    """Ruby's `Time#iso8601`: whole seconds, UTC."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))
