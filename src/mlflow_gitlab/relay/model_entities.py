"""The relay's side of MLflow 3 logged models: their MLflow JSON, and the search filter.

How a logged model is kept in its run's tags is `mlflow_gitlab.logged_models`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from mlflow_gitlab.logged_models import ModelRecord
from mlflow_gitlab.relay.storage import relay_uri

_CLAUSE = re.compile(r"\s*(?P<field>[\w.]+)\s*(?P<op>!=|=)\s*(?P<q>['\"])(?P<value>.*?)(?P=q)\s*")
FILTER_FIELDS = ("name", "model_id", "source_run_id", "model_type", "status")


def entity(record: ModelRecord, run_params: Mapping[str, str]) -> dict[str, Any]:
    """The model in MLflow's JSON; its params are the run's plus its own."""
    params = {**run_params, **record.params}
    return {
        "info": {
            "model_id": record.model_id, "experiment_id": record.experiment_id,
            "name": record.name, "artifact_uri": relay_uri(record.run_id, record.path),
            "creation_timestamp_ms": record.created,
            "last_updated_timestamp_ms": record.created,
            "status": f"LOGGED_MODEL_{record.status}", "status_message": "",
            "model_type": record.model_type, "source_run_id": record.run_id,
            "tags": [{"key": k, "value": v} for k, v in sorted(record.tags.items())],
        },
        "data": {"params": [{"key": k, "value": v} for k, v in sorted(params.items())],
                 "metrics": []},
    }


def parse_filter(text: str | None) -> list[tuple[str, str, str]]:
    """`name = 'model' AND source_run_id = '...'` -> [(field, op, value), ...].

    Raises:
        ValueError: anything but `=`/`!=` comparisons of FILTER_FIELDS joined by AND.
    """
    if not text or not text.strip():
        return []
    clauses = []
    for part in re.split(r"\s+AND\s+", text.strip(), flags=re.IGNORECASE):
        match = _CLAUSE.fullmatch(part)
        if match is None or match["field"] not in FILTER_FIELDS:
            raise ValueError(f"unsupported logged-model filter {part!r}: on GitLab the relay "
                             f"takes only {', '.join(FILTER_FIELDS)} with = or != joined by AND")
        clauses.append((match["field"], match["op"], match["value"]))
    return clauses


def matches(record: ModelRecord, clauses: list[tuple[str, str, str]]) -> bool:
    """Whether `record` satisfies every clause of `parse_filter`."""
    values = {"name": record.name, "model_id": record.model_id, "source_run_id": record.run_id,
              "model_type": record.model_type, "status": record.status}
    for name, op, value in clauses:
        wanted = value.removeprefix("LOGGED_MODEL_") if name == "status" else value
        if (values[name] == wanted) != (op == "="):
            return False
    return True
