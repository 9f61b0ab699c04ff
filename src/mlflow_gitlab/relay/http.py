"""The relay's HTTP plumbing on the shared server core: requests in, replies out."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from email.message import Message
from typing import Any
from urllib.parse import parse_qs

from mlflow_gitlab import redaction
from mlflow_gitlab.http.server import RequestBody, RequestHandler, ThreadedServer

log = logging.getLogger(__name__)


class BadRequest(Exception):
    """A request the relay cannot read (its body is not what the endpoint takes)."""


@dataclass
class Request:
    """One request from the child: the raw path, the query and a lazily read body."""

    method: str
    path: str
    query: str
    headers: Message
    body_in: RequestBody = field(repr=False)
    _body: bytes | None = field(default=None, repr=False)

    @property
    def length(self) -> int:
        """Bytes of the body still unread."""
        return self.body_in.remaining

    @property
    def params(self) -> dict[str, str]:
        """Query parameters, last value wins."""
        return {k: v[-1] for k, v in parse_qs(self.query, keep_blank_values=True).items()}

    def body(self) -> bytes:
        """The whole body, read once (`length` counts the bytes still unread)."""
        if self._body is None:
            self._body = self.body_in.read_all()
        return self._body

    def stream(self) -> BodyReader:
        """The body as a file-like object of known length, read as it is consumed."""
        return BodyReader(self)

    def json(self) -> dict[str, Any]:
        """The JSON body; GET parameters come in the query string."""
        raw = self.body()
        if not raw:
            return dict(self.params)
        try:
            body = json.loads(raw)
        except ValueError as exc:
            raise BadRequest(f"the request body is not JSON: {exc}") from None
        if not isinstance(body, dict):
            raise BadRequest("the request body is not a JSON object")
        return body


@dataclass
class Reply:
    """An answer: bytes, or chunks of a known total `length` streamed through."""

    status: int
    body: bytes | Iterable[bytes] = b""
    content_type: str = "application/json"
    length: int | None = None
    headers: dict[str, str] = field(default_factory=dict)


def json_reply(payload: Any, status: int = 200) -> Reply:
    return Reply(status, json.dumps(payload).encode())


def mlflow_error(status: int, code: str, message: str) -> Reply:
    """An error in MLflow's shape, which the MLflow client turns into an MlflowException
    (and the child may print: its message goes through the redactor)."""
    return json_reply({"error_code": code, "message": redaction.redact(message)}, status)


Handler = Callable[[Request], Reply]


class RelayHTTPServer(ThreadedServer):
    """Serves `dispatch(request) -> Reply` on loopback, one thread per connection."""

    log = log

    def __init__(self, address: tuple[str, int], dispatch: Handler) -> None:
        self.dispatch = dispatch
        super().__init__(address, _Handler)


class _Handler(RequestHandler):
    server: RelayHTTPServer
    logger = log

    def respond(self) -> None:
        path, query = self.raw_path
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            self.close_connection = True
            self._send(mlflow_error(411, "BAD_REQUEST", "chunked request bodies are not "
                                    "supported; send a Content-Length"))
            return
        request = Request(self.command, path, query, self.headers,
                          RequestBody(self.rfile, self.headers))
        try:
            reply = self.server.dispatch(request)
        except BadRequest as exc:
            reply = mlflow_error(400, "BAD_REQUEST", str(exc))
        except Exception as exc:  # a relay bug: answer 500 and keep serving
            log.exception("relay: %s %s failed", self.command, path)
            reply = mlflow_error(500, "INTERNAL_ERROR", f"mlflow-gitlab relay: {exc}")
        if request.length:  # an unread body would be taken for the next request
            self.close_connection = True
        self._send(reply)

    def _send(self, reply: Reply) -> None:
        body = reply.body
        length = len(body) if isinstance(body, bytes) else reply.length
        self.send_head(reply.status, reply.content_type, reply.headers, length)
        self.send_body([body] if isinstance(body, bytes) else body)


class BodyReader:
    """A request body for `requests` to stream on: `read(n)` plus `len()` (its size, so it
    goes out with a Content-Length rather than chunked)."""

    def __init__(self, request: Request) -> None:
        self.body = request.body_in

    def __len__(self) -> int:
        return self.body.remaining

    def read(self, size: int = -1) -> bytes:
        return self.body.read(self.body.remaining if size is None or size < 0 else size)
