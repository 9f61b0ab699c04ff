"""The MLflow API's parameters as Grape coerces them, and its `before` permission filter.

Not an endpoint module (it registers no routes). The records' own validations are
`backend.records`; their failures reach the client as 400 `INVALID_PARAMETER_VALUE` through
the MLflow API's `rescue_from ActiveRecord::ActiveRecordError`.
"""

from __future__ import annotations

import math
import re
from typing import Any

from mlflow_gitlab.sandbox import web
from mlflow_gitlab.sandbox.routes.ml_common import require_read, require_write

_NUMBER = re.compile(r"\s*[+-]?(\d+\.?\d*([eE][+-]?\d+)?|\.\d+([eE][+-]?\d+)?)\s*\Z")


def authorize(req: web.Request) -> None:
    """The MLflow API's `before` filter: read permission always, write unless GET/HEAD.

    So POST searches need write permission too: a Reporter gets 401 on `runs/search`.
    """
    require_read(req)
    if req.method not in ("GET", "HEAD"):
        require_write(req)


# --- Grape coercion ----------------------------------------------------------


def grape_string(value: Any, name: str) -> str | None:
    """Coerce like a Grape `type: String` param: scalars become text, arrays/objects fail."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"  # Ruby's `true.to_s`
    if isinstance(value, int | float):
        return str(value)
    raise web.grape_error(f"{name} is invalid")


def grape_float(value: Any, name: str) -> float | None:
    """Coerce like a Grape `type: Float` param; NaN and infinities are invalid, as in Ruby."""
    if value is None:
        return None
    numeric = isinstance(value, int | float) and not isinstance(value, bool)
    if not (numeric or (isinstance(value, str) and _NUMBER.match(value))):
        raise web.grape_error(f"{name} is invalid")
    number = float(value)
    if not math.isfinite(number):
        raise web.grape_error(f"{name} is invalid")
    return number


def grape_integer(value: Any, name: str) -> int | None:
    """Coerce like a Grape `type: Integer` param (`"12"` works, `"1.5"` and `"s"` do not)."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise web.grape_error(f"{name} is invalid")
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, int) or (isinstance(value, str) and value.strip().lstrip("+-").isdigit()):
        return int(value)
    raise web.grape_error(f"{name} is invalid")


def key_value_items(value: Any, name: str) -> list[tuple[str | None, str | None]]:
    """An undeclared-shape `tags` array (`type: Array` only) as (key, value) pairs."""
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise web.grape_error(f"{name} is invalid")
    return [(grape_string(item.get("key"), name), grape_string(item.get("value"), name))
            for item in value]
