"""The runs the relay has seen: which exist, where their files are, and how the child sees them.

Run JSON coming back from GitLab is rewritten on its way to the child: `artifact_uri`
becomes the relay's `mlflow-artifacts:/runs/<run_id>` (so uploads and downloads come
through the relay, which holds the token), and the datasets recorded as run tags are given
back as the run's `inputs`.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import requests

from mlflow_gitlab.http import read_json, unexpected
from mlflow_gitlab.relay.inputs import dataset_inputs
from mlflow_gitlab.relay.storage import Storage, relay_uri, storage_of
from mlflow_gitlab.relay.upstream import Upstream


class RunDirectory:
    """Thread-safe memory of runs: known ids and, on GitLab, their storage."""

    def __init__(self, upstream: Upstream) -> None:
        self.upstream = upstream
        self._lock = threading.Lock()
        self._known: set[str] = set()
        self._storage: dict[str, Storage] = {}

    def remember(self, info: dict[str, Any]) -> None:
        """Note a run from its `info` as the server sent it (before any rewriting)."""
        run_id = info.get("run_id") or info.get("run_uuid")
        if not run_id:
            return
        storage = storage_of(str(info.get("artifact_uri") or ""))
        with self._lock:
            self._known.add(run_id)
            if storage is not None:
                self._storage[run_id] = storage

    def fetch(self, run_id: str) -> requests.Response:
        """`runs/get` for `run_id` as the server answers it, remembered when found."""
        response = self.upstream.call("GET", self.upstream.mlflow_url("runs/get"),
                                      params={"run_id": run_id})
        if response.ok:
            run = read_json(response, dict, keys=("run",))["run"]
            info = run.get("info") if isinstance(run, dict) else None
            if not isinstance(info, dict) or not info.get("run_id"):
                raise unexpected(response, "a run without info.run_id")
            self.remember(info)
        return response

    def check(self, run_id: str) -> requests.Response | None:
        """None if run `run_id` exists, else the server's answer saying why not."""
        with self._lock:
            if run_id in self._known:
                return None
        response = self.fetch(run_id)
        return None if response.ok else response

    def storage(self, run_id: str) -> Storage | requests.Response | None:
        """Where run `run_id`'s files are (None: unknown kind), or the failed lookup."""
        with self._lock:
            if run_id in self._storage:
                return self._storage[run_id]
        response = self.fetch(run_id)
        if not response.ok:
            return response
        with self._lock:
            return self._storage.get(run_id)


def rewrite_runs(body: dict[str, Any], runs: RunDirectory) -> dict[str, Any]:
    """Remember the runs in a `runs/*` answer and point their `artifact_uri` at the relay."""
    for run, info in run_infos(body):
        runs.remember(info)
        run_id = info.get("run_id") or info.get("run_uuid")
        if run_id and "artifact_uri" in info:
            info["artifact_uri"] = relay_uri(run_id)
        if run is not None:
            inputs = dataset_inputs(run.get("data", {}).get("tags") or [])
            if inputs:
                run.setdefault("inputs", {})["dataset_inputs"] = inputs
    return body


def run_infos(body: dict[str, Any]) -> Iterator[tuple[dict[str, Any] | None, dict[str, Any]]]:
    """(run, info) pairs of `runs/get|create` (`run`), `runs/search` (`runs`) and
    `runs/update` (`run_info`, no run) answers."""
    if isinstance(body.get("run"), dict):
        yield body["run"], body["run"].setdefault("info", {})
    for run in body.get("runs") or []:
        if isinstance(run, dict):
            yield run, run.setdefault("info", {})
    if isinstance(body.get("run_info"), dict):
        yield None, body["run_info"]
