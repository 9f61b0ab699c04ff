"""MLflow 3's `logged-models` API on GitLab, served by the relay from run tags and files.

`mlflow.<flavor>.log_model` creates a logged model, uploads its files to the model's
`artifact_uri`, then finalizes it; `load_model("models:/<id>")` gets it back, and
`load_model("runs:/<run_id>/<name>")` searches for it by name. See
`mlflow_gitlab.logged_models` for how a model is kept. Deleting a model or a tag is
refused: GitLab run tags cannot be deleted.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import unquote

import requests

from mlflow_gitlab import logged_models as mr
from mlflow_gitlab.errors import GitLabAPIError
from mlflow_gitlab.http import read_json, unexpected
from mlflow_gitlab.relay.artifact_routes import ArtifactRoutes
from mlflow_gitlab.relay.forward import reply_from, unavailable
from mlflow_gitlab.relay.http import Reply, Request, json_reply, mlflow_error
from mlflow_gitlab.relay.model_entities import entity, matches, parse_filter
from mlflow_gitlab.relay.runs import RunDirectory
from mlflow_gitlab.relay.upstream import Upstream

_PAGE = 1000
_ORDER_FIELDS = {"creation_timestamp": "created", "last_updated_timestamp": "created",
                 "name": "name"}


class _Failed(Exception):
    def __init__(self, reply: Reply) -> None:
        super().__init__(reply.status)
        self.reply = reply


class ModelRoutes:
    """Handlers for `/api/2.0/mlflow/logged-models[/...]` on GitLab."""

    def __init__(self, upstream: Upstream, runs: RunDirectory, artifacts: ArtifactRoutes,
                 default_run_id: str | None) -> None:
        self.upstream, self.runs, self.artifacts = upstream, runs, artifacts
        self.default_run_id = default_run_id

    def handle(self, request: Request, endpoint: str) -> Reply:
        parts = [unquote(p) for p in endpoint.split("/")[1:]]
        method = request.method
        try:
            if not parts and method == "POST":
                return self.create(request.json())
            if parts == ["search"] and method == "POST":
                return self.search(request.json())
            if len(parts) == 1 and method == "GET":
                return json_reply({"model": self._entity(self._record(parts[0]))})
            if len(parts) == 1 and method == "PATCH":
                return self.finalize(parts[0], request.json())
            if parts[1:] == ["tags"] and method == "PATCH":
                return self.add(parts[0], "tag", request.json().get("tags") or [])
            if parts[1:] == ["params"] and method == "POST":
                return self.add(parts[0], "param", request.json().get("params") or [])
            if parts and method == "DELETE":
                return mlflow_error(501, "NOT_IMPLEMENTED", "logged models and their tags "
                                    "cannot be deleted on GitLab: they are run tags and files")
        except _Failed as exc:
            return exc.reply
        except ValueError as exc:
            return mlflow_error(400, "INVALID_PARAMETER_VALUE", str(exc))
        except (GitLabAPIError, requests.RequestException) as exc:
            return unavailable(exc)
        return mlflow_error(404, "ENDPOINT_NOT_FOUND",
                            f"{method} logged-models/{'/'.join(parts)} is not supported by "
                            "the mlflow-gitlab relay")

    def create(self, body: dict[str, Any]) -> Reply:
        run_id = body.get("source_run_id") or self.default_run_id
        if not run_id:
            return mlflow_error(400, "INVALID_PARAMETER_VALUE", "GitLab keeps model files "
                                "in runs: log the model inside a run (mlflow.start_run())")
        run = self._run(run_id)
        name = str(body.get("name") or "model").strip("/")
        if not name or ".." in name.split("/"):
            raise ValueError(f"model name {name!r} is not a folder name")
        model_id = mr.new_model_id(run["info"]["run_id"])
        taken = {r.path for r in mr.records(run)} | self.artifacts.folders(run_id)
        run_params = _pairs(run.get("data", {}).get("params"))
        record = mr.ModelRecord(
            model_id, run["info"]["run_id"], str(run["info"].get("experiment_id", "")), name,
            mr.folder_for(name, model_id, taken), int(time.time() * 1000),
            str(body.get("model_type") or ""), "PENDING", _pairs(body.get("tags")),
            {k: v for k, v in _pairs(body.get("params")).items() if run_params.get(k) != v})
        self._write(record.run_id, mr.creation_tags(record))
        return json_reply({"model": entity(record, run_params)})

    def finalize(self, model_id: str, body: dict[str, Any]) -> Reply:
        status = str(body.get("status") or "").removeprefix("LOGGED_MODEL_")
        if status not in mr.STATUSES[1:]:
            raise ValueError(f"status {body.get('status')!r} is not READY or UPLOAD_FAILED")
        record = self._record(model_id)
        self._write(record.run_id, mr.detail_tags(model_id, "status", {"status": status}))
        record = self._record(model_id)
        if record.status != status:  # GitLab keeps a tag's first value
            return mlflow_error(400, "INVALID_STATE", f"model {model_id} was already "
                                f"finalized as LOGGED_MODEL_{record.status}")
        return json_reply({"model": self._entity(record)})

    def add(self, model_id: str, kind: str, items: list[dict[str, Any]]) -> Reply:
        """Set model tags or params; a key already set to another value is refused."""
        record = self._record(model_id)
        current = record.tags if kind == "tag" else record.params
        values = _pairs(items)
        changed = [k for k, v in values.items() if k in current and current[k] != v]
        if changed:
            raise ValueError(f"model {kind} {changed[0]!r} is already set; GitLab run tags "
                             "cannot change")
        self._write(record.run_id, mr.detail_tags(model_id, kind, values))
        return json_reply({})

    def search(self, body: dict[str, Any]) -> Reply:
        clauses = parse_filter(body.get("filter"))
        if body.get("datasets"):
            raise ValueError("searching logged models by dataset metrics is not supported on "
                             "GitLab: it has no model metrics")
        order = body.get("order_by") or [{"field_name": "creation_timestamp",
                                          "ascending": False}]
        found = [(r, params) for eid in body.get("experiment_ids") or []
                 for r, params in self._experiment_models(str(eid)) if matches(r, clauses)]
        for item in reversed(order):
            attr = _ORDER_FIELDS.get(item.get("field_name", ""))
            if attr is None:
                raise ValueError(f"cannot order logged models by {item.get('field_name')!r} on "
                                 f"GitLab; use one of {', '.join(_ORDER_FIELDS)}")
            found.sort(key=lambda rp, a=attr: getattr(rp[0], a),
                       reverse=not item.get("ascending", True))
        start = int(body.get("page_token") or 0)
        size = int(body.get("max_results") or 100)
        page = found[start:start + size]
        token = str(start + size) if start + size < len(found) else None
        return json_reply({"models": [entity(r, p) for r, p in page],
                           **({"next_page_token": token} if token else {})})

    def _experiment_models(self, experiment_id: str) -> list[tuple[mr.ModelRecord, dict]]:
        """Every logged model in the experiment's runs (GitLab ignores search filters,
        so every run is read)."""
        upstream, found, token = self.upstream, [], None
        while True:
            body: dict[str, Any] = {"experiment_ids": [experiment_id], "max_results": _PAGE}
            if token:
                body["page_token"] = token
            response = upstream.call("POST", upstream.mlflow_url("runs/search"),
                                     idempotent=True, json=body)
            if not response.ok:
                raise _Failed(reply_from(response))
            answer = read_json(response, dict)
            runs = answer.get("runs") or []
            if not isinstance(runs, list) or not all(isinstance(r, dict) for r in runs):
                raise unexpected(response, "runs that are not a list of objects")
            for run in runs:
                params = _pairs(run.get("data", {}).get("params"))
                found += [(r, params) for r in mr.records(run)]
            token = answer.get("next_page_token")
            if not token:
                return found

    def _record(self, model_id: str) -> mr.ModelRecord:
        run_id = mr.run_of(model_id)
        run = self._run(run_id, missing=f"Logged model {model_id} not found") if run_id else {}
        for record in mr.records(run):
            if record.model_id == model_id:
                return record
        raise _Failed(mlflow_error(404, "RESOURCE_DOES_NOT_EXIST",
                                   f"Logged model {model_id} not found"))

    def _entity(self, record: mr.ModelRecord) -> dict[str, Any]:
        run = self._run(record.run_id)
        return entity(record, _pairs(run.get("data", {}).get("params")))

    def _run(self, run_id: str, missing: str | None = None) -> dict[str, Any]:
        response = self.runs.fetch(run_id)
        if response.status_code == 404 and missing:
            raise _Failed(mlflow_error(404, "RESOURCE_DOES_NOT_EXIST", missing))
        if not response.ok:
            raise _Failed(reply_from(response))
        return read_json(response, dict, keys=("run",))["run"]

    def _write(self, run_id: str, tags: dict[str, str]) -> None:
        failed = self.upstream.log_tags(run_id, tags)
        if failed is not None:
            raise _Failed(reply_from(failed))


def _pairs(items: Any) -> dict[str, str]:
    return {str(i["key"]): str(i.get("value", "")) for i in items or [] if i.get("key")}
