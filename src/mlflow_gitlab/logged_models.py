"""MLflow 3 logged models kept as run tags on GitLab, which has no `logged-models` API.

A logged model is a folder in its run's files plus run tags:

    mlflow-gitlab.model.<model_id>              {"name", "path", "type", "created"} (JSON)
    mlflow-gitlab.model.<model_id>.status       READY or UPLOAD_FAILED, once finalized
    mlflow-gitlab.model.<model_id>.tag.<key>    the model's tags
    mlflow-gitlab.model.<model_id>.param.<key>  its params, where they differ from the run's

Its id, `m-<run id hex><8 hex>`, names its run, so any process can find it from the id
alone. Its folder is its name (`model/`, as MLflow 2 laid models out), or
`<name>-<8 hex>` when an earlier model of the run already has that name, so every model
id keeps its own files. GitLab keeps a tag's first value, so each fact is
written once, under its own key.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from mlflow_gitlab.tags import MAX_KEY_LENGTH, MAX_VALUE_LENGTH
from mlflow_gitlab.tags import MODEL_RECORD_PREFIX as PREFIX

STATUSES = ("PENDING", "READY", "UPLOAD_FAILED")
_ID = re.compile(r"\Am-(?P<run>[0-9a-f]{32})[0-9a-f]{8}\Z")


@dataclass(frozen=True)
class ModelRecord:
    """What the run's tags say about one logged model."""

    model_id: str
    run_id: str
    experiment_id: str
    name: str
    path: str
    created: int
    model_type: str = ""
    status: str = "PENDING"
    tags: Mapping[str, str] = field(default_factory=dict)
    params: Mapping[str, str] = field(default_factory=dict)


def new_model_id(run_id: str) -> str:
    """A fresh model id naming run `run_id`.

    Raises:
        ValueError: the run id is not a UUID (GitLab's run ids all are).
    """
    hexed = run_id.replace("-", "").lower()
    if not re.fullmatch(r"[0-9a-f]{32}", hexed):
        raise ValueError(f"run id {run_id!r} is not a UUID")
    return f"m-{hexed}{secrets.token_hex(4)}"


def run_of(model_id: str) -> str | None:
    """The id of the run that holds model `model_id`; None if the relay did not make it."""
    match = _ID.match(model_id)
    if match is None:
        return None
    h = match["run"]
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def folder_for(name: str, model_id: str, taken: set[str]) -> str:
    """The model's folder in the run: its name, unless another model of the run has it."""
    return name if name not in taken else f"{name}-{model_id[-8:]}"


def creation_tags(record: ModelRecord) -> dict[str, str]:
    """The run tags that create `record` (status, tags and own params included).

    Raises:
        ValueError: a key or value is too long for a GitLab run tag.
    """
    head = {"name": record.name, "path": record.path, "type": record.model_type,
            "created": record.created}
    tags = {PREFIX + record.model_id: json.dumps(head, separators=(",", ":"))}
    tags.update(detail_tags(record.model_id, "tag", record.tags))
    tags.update(detail_tags(record.model_id, "param", record.params))
    return tags


def detail_tags(model_id: str, kind: str, values: Mapping[str, str]) -> dict[str, str]:
    """Run tags for a model's `status`, `tag`s or `param`s.

    Raises:
        ValueError: a key or value is too long for a GitLab run tag.
    """
    if kind == "status":
        return {f"{PREFIX}{model_id}.status": str(values["status"])}
    tags = {}
    for key, value in values.items():
        tag_key, text = f"{PREFIX}{model_id}.{kind}.{key}", str(value)
        if len(tag_key) > MAX_KEY_LENGTH or len(text) > MAX_VALUE_LENGTH or not text:
            raise ValueError(f"model {kind} {key!r} does not fit a GitLab run tag "
                             f"(key <= {MAX_KEY_LENGTH - len(tag_key) + len(key)} and "
                             f"1..{MAX_VALUE_LENGTH} characters)")
        tags[tag_key] = text
    return tags


def records(run: Mapping[str, Any]) -> list[ModelRecord]:
    """The logged models recorded in a run's JSON (as GitLab sends it), newest first."""
    info, data = run.get("info") or {}, run.get("data") or {}
    tags = {t["key"]: t.get("value", "") for t in data.get("tags") or []}
    run_id = info.get("run_id") or info.get("run_uuid") or ""
    found = []
    for key, value in tags.items():
        model_id = key[len(PREFIX):] if key.startswith(PREFIX) else ""
        if not model_id or "." in model_id:
            continue
        try:
            head = json.loads(value)
        except ValueError:
            continue
        found.append(ModelRecord(
            model_id, run_id, str(info.get("experiment_id", "")), str(head.get("name", "")),
            str(head.get("path", "")), int(head.get("created") or 0),
            str(head.get("type") or ""), tags.get(f"{key}.status", "PENDING"),
            _details(tags, f"{key}.tag."), _details(tags, f"{key}.param.")))
    return sorted(found, key=lambda r: r.created, reverse=True)


def _details(tags: Mapping[str, str], prefix: str) -> dict[str, str]:
    return {k[len(prefix):]: v for k, v in tags.items() if k.startswith(prefix)}
