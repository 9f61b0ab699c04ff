"""Pieces shared by the MLflow-compatible endpoints: permissions, parameters, page tokens."""

from __future__ import annotations

import base64
import json
import sqlite3
from typing import Any

from mlflow_gitlab.sandbox import web
from mlflow_gitlab.sandbox.backend.projects import DEVELOPER, REPORTER, access_level

DEFAULT_MAX_RESULTS = 200
MAX_RESULTS_CAP = 1000

# --- permissions (gitlabhq lib/api/ml/mlflow/api_helpers.rb) --------------------------------


def require_read(req: web.Request) -> None:
    """`read_model_experiments` / `read_model_registry`: failing -> 404 Not Found."""
    if access_level(req.app.store, req.project, req.principal) < REPORTER:
        raise web.not_found()


def require_write(req: web.Request) -> None:
    """`write_model_experiments` / `write_model_registry`: failing -> 401, not 403."""
    if access_level(req.app.store, req.project, req.principal) < DEVELOPER:
        raise web.unauthorized()


# --- parameters -----------------------------------------------------------------------------


def required(req: web.Request, *names: str) -> list[Any]:
    """Grape `requires`: each missing (or null) -> 400 `{"error":"<name> is missing"}`."""
    missing = [n for n in names if req.params.get(n) is None]
    if missing:
        raise web.grape_error(", ".join(f"{n} is missing" for n in missing))
    return [req.params[n] for n in names]


def integer(req: web.Request, name: str, default: int | None = None) -> int | None:
    """A Grape Integer param: absent -> default; not coercible -> 400 `<name> is invalid`."""
    value = req.params.get(name)
    if value is None:
        return default
    if isinstance(value, bool):
        raise web.grape_error(f"{name} is invalid")
    try:
        return int(value)
    except (TypeError, ValueError):
        raise web.grape_error(f"{name} is invalid") from None


def max_results(req: web.Request, default: int = DEFAULT_MAX_RESULTS) -> int:
    value = integer(req, "max_results", default) or default
    return max(1, min(value, MAX_RESULTS_CAP))


# --- MLflow page tokens (opaque to clients) ---------------------------------------------------


def encode_page_token(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"offset": offset}).encode()).decode()


def decode_page_token(token: str | None) -> int:
    """The offset inside a page token; a malformed token -> 400."""
    if not token:
        return 0
    try:
        return int(json.loads(base64.urlsafe_b64decode(token.encode()))["offset"])
    except (ValueError, KeyError, TypeError):
        raise web.invalid_parameter("Invalid page token") from None


def paginate(rows: list[Any], req: web.Request, default: int = DEFAULT_MAX_RESULTS
             ) -> tuple[list[Any], str | None]:
    """(page, next_page_token or None) for an already-ordered list."""
    offset = decode_page_token(req.params.get("page_token"))
    size = max_results(req, default)
    page = rows[offset: offset + size]
    more = offset + size < len(rows)
    return page, encode_page_token(offset + size) if more else None


def key_values(rows: list[sqlite3.Row]) -> list[dict[str, Any]]:
    """Tag rows as MLflow's `[{"key":..., "value":...}]`."""
    return [{"key": r["key"], "value": r["value"]} for r in rows]
