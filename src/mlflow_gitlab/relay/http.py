"""The relay's HTTP plumbing: a threaded loopback server, requests in, replies out.

Keep-alive HTTP/1.1 with Nagle off: the MLflow client sends one small request per
`log_metric`, and a delayed ACK would cost ~40 ms on each.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, BinaryIO
from urllib.parse import parse_qs

from mlflow_gitlab import redaction

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
    rfile: BinaryIO = field(repr=False)
    length: int = 0
    _body: bytes | None = field(default=None, repr=False)

    @property
    def params(self) -> dict[str, str]:
        """Query parameters, last value wins."""
        return {k: v[-1] for k, v in parse_qs(self.query, keep_blank_values=True).items()}

    def body(self) -> bytes:
        """The whole body, read once (`length` counts the bytes still unread)."""
        if self._body is None:
            self._body = self.rfile.read(self.length) if self.length else b""
            self.length = 0
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


class RelayHTTPServer(ThreadingHTTPServer):
    """Serves `dispatch(request) -> Reply` on loopback, one thread per connection."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], dispatch: Handler) -> None:
        self.dispatch = dispatch
        super().__init__(address, _Handler)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: RelayHTTPServer

    def do_GET(self) -> None:
        self._handle()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_GET

    def log_message(self, format: str, *args: object) -> None:
        log.debug("relay: %s", format % args)

    def _handle(self) -> None:
        path, _, query = self.path.partition("?")
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            self._send(mlflow_error(411, "BAD_REQUEST", "chunked request bodies are not "
                                    "supported; send a Content-Length"))
            self.close_connection = True
            return
        request = Request(self.command, path, query, self.headers, self.rfile,
                          int(self.headers.get("Content-Length") or 0))
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
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        if length is None:
            self.close_connection = True
            self.send_header("Connection", "close")
        else:
            self.send_header("Content-Length", str(length))
        self.end_headers()
        if self.command == "HEAD":
            return
        try:
            if isinstance(body, bytes):
                self.wfile.write(body)
            else:
                for chunk in body:
                    self.wfile.write(chunk)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True


class BodyReader:
    """A request body for `requests` to stream on: `read(n)` plus `len()` (its size, so it
    goes out with a Content-Length rather than chunked)."""

    def __init__(self, request: Request) -> None:
        self.request = request
        self.size = request.length

    def __len__(self) -> int:
        return self.request.length

    def read(self, size: int = -1) -> bytes:
        left = self.request.length
        if left <= 0:
            return b""
        chunk = self.request.rfile.read(left if size is None or size < 0 else min(size, left))
        if not chunk:
            raise ConnectionError("the client closed the connection mid-body")
        self.request.length -= len(chunk)
        return chunk
