"""Run artifacts through the relay on GitLab: upload, download and list with the token added.

The child's MLflow client talks to `/api/2.0/mlflow-artifacts/artifacts/runs/<run_id>/...`
(the run's `artifact_uri` as the relay rewrote it). Files go to and come from the run's
`ml_model` package with Bearer auth; listings come from GitLab's artifact proxy and are
rebuilt into folders (`storage.listing`). GitLab's own UI and downloads show the same files,
under their stored names (`model%2FMLmodel`). A model version's files (`models:/<name>/...`
resolves to `mlflow-artifacts:/<model version id>`) are read the same way, read-only.
"""

from __future__ import annotations

import json
from urllib.parse import quote

import requests

from mlflow_gitlab.errors import GitLabAPIError
from mlflow_gitlab.http import read_json, transfer_seconds, unexpected
from mlflow_gitlab.http.paths import url_path
from mlflow_gitlab.relay.forward import BUFFERED, reply_from, unavailable
from mlflow_gitlab.relay.http import Reply, Request, json_reply, mlflow_error
from mlflow_gitlab.relay.routes import ARTIFACTS as PREFIX
from mlflow_gitlab.relay.runs import RunDirectory
from mlflow_gitlab.relay.storage import (
    Storage,
    listing,
    split_relay_path,
    split_stored_path,
)
from mlflow_gitlab.relay.upstream import Upstream


class ArtifactRoutes:
    """`GET|PUT <PREFIX>/runs/<run_id>/<path>` and `GET <PREFIX>?path=runs/<run_id>/<dir>`;
    `GET <PREFIX>/<ref>/<path>` and `GET <PREFIX>?path=<ref>/<dir>` for a package GitLab names
    (`<model version id>` or `candidate:<iid>`)."""

    def __init__(self, upstream: Upstream, runs: RunDirectory) -> None:
        self.upstream, self.runs = upstream, runs

    def handle(self, request: Request) -> Reply:
        try:
            return self._handle(request)
        except (GitLabAPIError, requests.RequestException) as exc:
            return unavailable(exc)
        except ValueError as exc:
            return mlflow_error(400, "INVALID_PARAMETER_VALUE", str(exc))

    def _handle(self, request: Request) -> Reply:
        rest = request.path[len(PREFIX):]
        if rest in ("", "/") and request.method == "GET":
            return self._list(request.params.get("path", ""))
        stored = split_stored_path(rest)
        if stored is not None and stored[1]:
            return self._read_stored(request, *stored)
        target = split_relay_path(rest)
        if target is None or not target[1]:
            return mlflow_error(404, "RESOURCE_DOES_NOT_EXIST",
                                f"no such artifact: {rest or '/'} (expected runs/<run_id>/<path>)")
        run_id, path = target
        storage = self._storage(run_id)
        if isinstance(storage, Reply):
            return storage
        if request.method == "PUT":
            return self._upload(request, storage, path)
        if request.method in ("GET", "HEAD"):
            return self._download(request, storage, f"run {run_id}", path)
        return mlflow_error(405, "BAD_REQUEST", f"{request.method} is not supported on "
                            "run artifacts: GitLab's package files cannot be changed this way")

    def folders(self, run_id: str) -> set[str]:
        """The top-level folders in run `run_id`'s files (none if it cannot be listed)."""
        reply = self._list(f"runs/{run_id}")
        if reply.status != 200 or not isinstance(reply.body, bytes):
            return set()
        return {f["path"] for f in json.loads(reply.body)["files"] if f["is_dir"]}

    def _list(self, path: str) -> Reply:
        stored = split_stored_path(path)
        target = split_relay_path(path) if stored is None else None
        if stored is not None:
            storage: Storage | Reply = Storage(ref=stored[0])
            folder = stored[1]
        elif target is not None:
            storage, folder = self._storage(target[0]), target[1]
        else:
            return json_reply({"files": []})
        if isinstance(storage, Reply):
            return storage
        if storage.ref is None:  # a legacy generic package cannot be listed here
            return json_reply({"files": []})
        upstream = self.upstream
        response = upstream.call("GET", f"{upstream.base}/api/2.0/mlflow-artifacts/artifacts",
                                 params={"path": storage.ref})
        if response.status_code == 404:  # nothing uploaded yet: no package
            return json_reply({"files": []})
        if not response.ok:
            return reply_from(response)
        files = read_json(response, dict).get("files") or []
        if not isinstance(files, list) or not all(isinstance(f, dict) for f in files):
            raise unexpected(response, "no list of files")
        return json_reply({"files": listing(files, folder)})

    def _upload(self, request: Request, storage: Storage, path: str) -> Reply:
        headers = {"Content-Type": request.headers.get("Content-Type",
                                                       "application/octet-stream")}
        small = request.length <= BUFFERED
        upstream = self.upstream
        large = {} if small else {
            "attempts": 1, "deadline": transfer_seconds(upstream.request_seconds,
                                                        request.length)}
        # A re-sent upload stores the same file again; GitLab serves the newest copy.
        response = upstream.call(
            "PUT", self._file_url(storage, path), idempotent=small,
            data=request.body() if small else request.stream(), headers=headers, **large)
        if not response.ok:
            return reply_from(response)
        return json_reply({})

    def _download(self, request: Request, storage: Storage, owner: str, path: str) -> Reply:
        response = self.upstream.call(request.method, self._file_url(storage, path),
                                            stream=True)
        if response.status_code == 404:
            response.close()
            return mlflow_error(404, "RESOURCE_DOES_NOT_EXIST",
                                f"{owner} has no artifact {path!r}")
        return reply_from(response, stream=True)

    def _read_stored(self, request: Request, ref: str, path: str) -> Reply:
        if request.method not in ("GET", "HEAD"):
            return mlflow_error(405, "BAD_REQUEST", f"{request.method} is not supported on "
                                f"{ref}: a model version's files are read-only here")
        return self._download(request, Storage(ref=ref), ref, path)

    def _storage(self, run_id: str) -> Storage | Reply:
        found = self.runs.storage(run_id)
        if isinstance(found, requests.Response):
            return reply_from(found)
        if found is None:
            return mlflow_error(501, "NOT_IMPLEMENTED", f"run {run_id} stores its artifacts "
                                "somewhere the relay does not know")
        return found

    def _file_url(self, storage: Storage, path: str) -> str:
        if storage.ref is not None:
            ref = quote(storage.ref, safe=":")
            return f"{self.upstream.packages_url}/ml_models/{ref}/files/{url_path(path)}"
        return f"{storage.generic_url}/{url_path(path)}"
