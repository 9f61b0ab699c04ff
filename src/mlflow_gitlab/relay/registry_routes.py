"""`get-latest-versions` on GitLab as MLflow's `models:/<name>/<version>` needs it.

MLflow reads `models:/churn/1.2.0` as the *stage* `1.2.0` (only digits are a version) and
asks `get-latest-versions` for it. GitLab ignores stages and answers its latest version
(`lib/api/ml/mlflow/registered_models.rb`), so the stock client would load the wrong
version; a model without versions comes back as `[null]`. The relay looks each semantic
version up by its alias instead (GitLab's alias of a version is its semantic version), and
answers a version that does not exist with a clear 404.
"""

from __future__ import annotations

import json
from typing import Any

import requests
import semver

from mlflow_gitlab.errors import GitLabAPIError
from mlflow_gitlab.http import read_json
from mlflow_gitlab.relay.forward import forward, reply_from, unavailable
from mlflow_gitlab.relay.http import Reply, Request, json_reply, mlflow_error
from mlflow_gitlab.relay.upstream import Upstream


class RegistryRoutes:
    """`POST registered-models/get-latest-versions` on GitLab."""

    def __init__(self, upstream: Upstream) -> None:
        self.upstream = upstream

    def latest_versions(self, request: Request) -> Reply:
        body = request.json()
        name, stages = body.get("name"), body.get("stages") or []
        try:
            if name and stages and all(isinstance(s, str) and semver.Version.is_valid(s)
                                       for s in stages):
                return self._by_version(str(name), stages)
            reply = forward(self.upstream, request)
        except (GitLabAPIError, requests.RequestException) as exc:
            return unavailable(exc)
        if reply.status == 200 and isinstance(reply.body, bytes) and _no_versions(reply.body):
            return json_reply({"model_versions": []})
        return reply

    def _by_version(self, name: str, versions: list[str]) -> Reply:
        upstream = self.upstream
        found: list[dict[str, Any]] = []
        for version in versions:
            response = upstream.call("GET", upstream.mlflow_url("registered-models/alias"),
                                     params={"name": name, "alias": version})
            if response.status_code == 404:
                continue
            if not response.ok:
                return reply_from(response)
            found.append(read_json(response, dict, keys=("model_version",))["model_version"])
        if not found:
            return mlflow_error(404, "RESOURCE_DOES_NOT_EXIST", f"Registered model {name!r} "
                                f"has no version {' or '.join(versions)}")
        return json_reply({"model_versions": found})


def _no_versions(body: bytes) -> bool:
    """GitLab's answer for a model without versions: `{"model_versions": [null]}`."""
    try:
        return json.loads(body) == {"model_versions": [None]}
    except ValueError:
        return False
