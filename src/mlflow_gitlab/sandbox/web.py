"""Request, response and error values shared by every sandbox endpoint.

GitLab answers errors in three byte-exact families, and the helpers here build each:
MLflow (`{"error_code": ...}`), Grape validation (`{"error": ...}`) and REST helpers
(`{"message": ...}`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from email.message import Message
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from mlflow_gitlab.http.server import RequestBody
from mlflow_gitlab.sandbox.backend.errors import (
    AlreadyExists,
    BackendError,
    Broken,
    Invalid,
    NotFound,
    Refused,
)

if TYPE_CHECKING:
    from mlflow_gitlab.sandbox.backend.tokens import Principal

JSON = dict[str, Any] | list[Any]


@dataclass
class Response:
    """What an endpoint answers: a JSON value, raw bytes/text, or a file streamed from disk."""

    status: int = 200
    body: JSON | str | bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    file: Path | None = None

    def payload(self) -> bytes:
        """The body as bytes (files are streamed separately)."""
        if self.body is None:
            return b""
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str):
            return self.body.encode()
        return json.dumps(self.body, separators=(",", ":")).encode()

    def content_type(self) -> str:
        if "Content-Type" in self.headers:
            return self.headers["Content-Type"]
        if self.file is not None or isinstance(self.body, bytes):
            return "application/octet-stream"
        if isinstance(self.body, str):
            return "text/plain"
        return "application/json"


class ApiError(Exception):
    """Raised inside an endpoint to answer with an error status and body."""

    def __init__(
        self, status: int, body: JSON | str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(f"{status} {body}")
        self.response = Response(status, body, dict(headers or {}))


# --- the three error families -------------------------------------------------------------


def mlflow_error(error_code: str, message: Any = ..., status: int = 400) -> ApiError:
    """An MLflow-style error; `message` is omitted from the body unless given (None -> null)."""
    body: dict[str, Any] = {"error_code": error_code}
    if message is not ...:
        body["message"] = message
    return ApiError(status, body)


def not_found_mlflow() -> ApiError:
    """MLflow `resource_not_found!`: 404 with no `message` key."""
    return mlflow_error("RESOURCE_DOES_NOT_EXIST", status=404)


def invalid_parameter(message: Any) -> ApiError:
    """MLflow `invalid_parameter!`: 400 INVALID_PARAMETER_VALUE."""
    return mlflow_error("INVALID_PARAMETER_VALUE", message)


def grape_error(message: str) -> ApiError:
    """A Grape parameter-validation failure: 400 `{"error": "<param> is missing"}`."""
    return ApiError(400, {"error": message})


def message_error(status: int, message: str) -> ApiError:
    """A REST helper error: `{"message": "<message>"}`."""
    return ApiError(status, {"message": message})


def bad_request(reason: str | None = None) -> ApiError:
    """GitLab's `bad_request!`."""
    return message_error(400, f"400 Bad request - {reason}" if reason else "400 Bad request")


def unauthorized() -> ApiError:
    return message_error(401, "401 Unauthorized")


def forbidden(reason: str | None = None) -> ApiError:
    return message_error(403, f"403 Forbidden - {reason}" if reason else "403 Forbidden")


def not_found(thing: str | None = None) -> ApiError:
    """GitLab's `not_found!`: `{"message": "404 <Thing> Not Found"}`."""
    return message_error(404, f"404 {thing} Not Found" if thing else "404 Not Found")


def route_not_found() -> ApiError:
    """The catch-all for unknown routes under /api/v4."""
    return ApiError(404, {"error": "404 Not Found"})


def backend_error(exc: BackendError, *, mlflow: bool) -> ApiError:
    """A backend refusal as GitLab answers it: in the MLflow family, or the REST one.

    REST: `NotFound("Project")` is `not_found!` (`404 Project Not Found`), a bare `NotFound`
    the RecordNotFound rescue of `lib/api/api.rb` (`404 Not found`, lowercase `f`).
    """
    if isinstance(exc, Broken):
        return message_error(500, "500 Internal Server Error")
    if isinstance(exc, Refused):
        return message_error(400, str(exc.message))
    if mlflow:
        if isinstance(exc, NotFound):
            return not_found_mlflow()
        if isinstance(exc, AlreadyExists):
            return mlflow_error("RESOURCE_ALREADY_EXISTS")
        return invalid_parameter(exc.message)
    if isinstance(exc, NotFound):
        return not_found(str(exc.message)) if exc.message else message_error(404, "404 Not found")
    if isinstance(exc, Invalid | AlreadyExists):
        return bad_request(None if exc.message is None else str(exc.message))
    return bad_request()


INSUFFICIENT_SCOPE = ApiError(
    403,
    {
        "error": "insufficient_scope",
        "error_description": (
            "The request requires higher privileges than provided by the access token."
        ),
        "scope": "api read_api",
    },
)


# --- the request ----------------------------------------------------------------------------


@dataclass
class Request:
    """One HTTP request as an endpoint sees it.

    `raw_path` is undecoded (GitLab routes on it); `params` merges the query string and a
    JSON or form body, for every method, as Grape does. Upload endpoints read `body` as a
    stream instead and never have `params` parsed from it.
    """

    method: str
    raw_path: str
    query: dict[str, list[str]]
    headers: Message
    base_url: str
    body: RequestBody
    app: Any = None  # the sandbox App: store, settings, faults
    path_params: dict[str, str] = field(default_factory=dict)
    principal: Principal | None = None
    project: Any = None  # sqlite3.Row of the resolved project, when the route has one
    _params: dict[str, Any] | None = None

    def path_param(self, name: str) -> str:
        """A path segment, URL-decoded."""
        return unquote(self.path_params[name])

    @property
    def params(self) -> dict[str, Any]:
        if self._params is None:
            merged: dict[str, Any] = {k: v[-1] for k, v in self.query.items()}
            for key, values in self.query.items():
                if key.endswith("[]"):
                    merged[key[:-2]] = values
            merged.update(self._body_params())
            self._params = merged
        return self._params

    def _body_params(self) -> dict[str, Any]:
        raw = self.body.read_all()
        if not raw:
            return {}
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if ctype == "application/x-www-form-urlencoded":
            from urllib.parse import parse_qs

            return {k: v[-1] for k, v in parse_qs(raw.decode(), keep_blank_values=True).items()}
        try:
            value = json.loads(raw)
        except ValueError:
            if ctype == "application/json":
                raise ApiError(400, {"error": "body is not valid JSON"}) from None
            return {}
        return value if isinstance(value, dict) else {}
