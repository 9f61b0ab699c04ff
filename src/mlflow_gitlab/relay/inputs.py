"""Run inputs and outputs (`runs/log-inputs`, `runs/outputs`), kept as run tags on GitLab.

GitLab has neither endpoint. A dataset input becomes one run tag,
`mlflow-gitlab.dataset.<name>.<digest>[.<context>]`, whose value is the dataset as MLflow
sent it, in JSON (the profile, then the schema, are left out if it would pass GitLab's
5,000-character tag limit, and the value says so). A model input or output becomes
`mlflow-gitlab.model_input.<model_id>` / `mlflow-gitlab.model_output.<model_id>` (value:
the step). Tags are written with `log-batch`, where GitLab keeps the first value of a key,
so logging the same input twice stores it once.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

from mlflow_gitlab.tags import (
    CONTEXT_TAG,
    DATASET_PREFIX,
    MAX_KEY_LENGTH,
    MAX_VALUE_LENGTH,
    MODEL_INPUT_PREFIX,
    MODEL_OUTPUT_PREFIX,
)

_UNSAFE = re.compile(r"[^A-Za-z0-9_.+-]+")
_DATASET_FIELDS = ("name", "digest", "source_type", "source", "schema", "profile")


def input_tags(body: Mapping[str, Any]) -> dict[str, str]:
    """The run tags recording a `runs/log-inputs` body.

    Raises:
        ValueError: a dataset has no name or digest.
    """
    tags: dict[str, str] = {}
    for item in body.get("datasets") or []:
        dataset = item.get("dataset") or {}
        name, digest = dataset.get("name"), dataset.get("digest")
        if not name or not digest:
            raise ValueError("each dataset input needs a dataset with a name and a digest")
        input_tags = {t.get("key"): t.get("value") for t in item.get("tags") or []}
        key = f"{DATASET_PREFIX}{_safe(name, 80)}.{_safe(digest, 40)}"
        if input_tags.get(CONTEXT_TAG):
            key += f".{_safe(input_tags[CONTEXT_TAG], 60)}"
        record = {f: dataset[f] for f in _DATASET_FIELDS if dataset.get(f) is not None}
        record["tags"] = input_tags
        tags[key[:MAX_KEY_LENGTH]] = _fit(record)
    for item in body.get("models") or []:
        if item.get("model_id"):
            tags[MODEL_INPUT_PREFIX + _safe(item["model_id"], 100)] = "input"
    return tags


def output_tags(body: Mapping[str, Any]) -> dict[str, str]:
    """The run tags recording a `runs/outputs` body (model id -> step)."""
    return {MODEL_OUTPUT_PREFIX + _safe(item["model_id"], 100): str(item.get("step") or 0)
            for item in body.get("models") or [] if item.get("model_id")}


def dataset_inputs(tags: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The run's dataset inputs in MLflow's JSON shape, read back from its tags."""
    inputs = []
    for tag in tags:
        if not str(tag.get("key", "")).startswith(DATASET_PREFIX):
            continue
        try:
            record = json.loads(tag.get("value") or "")
        except ValueError:
            continue
        if not isinstance(record, dict):
            continue
        input_tags = record.pop("tags", {}) or {}
        record.pop("omitted", None)
        inputs.append({"tags": [{"key": k, "value": v} for k, v in input_tags.items()],
                       "dataset": {k: v for k, v in record.items() if k in _DATASET_FIELDS}})
    return inputs


def _fit(record: dict[str, Any]) -> str:
    """`record` as JSON within GitLab's tag limit, leaving out the largest optional parts."""
    text = json.dumps(record, separators=(",", ":"))
    omitted = []
    for name in ("profile", "schema", "source"):
        if len(text) <= MAX_VALUE_LENGTH:
            break
        if record.pop(name, None) is not None:
            omitted.append(name)
            record["omitted"] = omitted
            text = json.dumps(record, separators=(",", ":"))
    if len(text) > MAX_VALUE_LENGTH:
        raise ValueError("the dataset's name and tags alone exceed GitLab's tag limit")
    return text


def _safe(value: str, limit: int) -> str:
    return _UNSAFE.sub("_", str(value))[:limit]
