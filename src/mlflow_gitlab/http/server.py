"""The stdlib HTTP server core of the relay and the sandbox: threaded, keep-alive, raw paths.

The stdlib server keeps the raw path (GitLab routes on it undecoded) and lets a body stream
from the socket as it is read. Keep-alive HTTP/1.1 with Nagle off: headers and body go out
in separate writes, and with Nagle on a keep-alive client waits ~40 ms for a delayed ACK on
every request (the MLflow client sends one small request per `log_metric`).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable, Iterator, Mapping
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import BinaryIO

CHUNK = 1 << 20  # bytes read from or written to a socket at once


class ThreadedServer(ThreadingHTTPServer):
    """One daemon thread per connection, a deep accept queue, a port reusable at once.

    A handler's failure is logged to `log` (so it passes the redactor and `-v` decides),
    rather than printed to stderr as the stdlib does; a client that went away is routine.
    """

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128
    log = logging.getLogger("mlflow_gitlab.http.server")

    def handle_error(self, request: object, client_address: object) -> None:
        failure = sys.exc_info()[1]
        if isinstance(failure, ConnectionError):
            self.log.debug("the client %s went away: %s", client_address, failure)
        else:
            self.log.error("a request from %s failed", client_address, exc_info=True)


class RequestHandler(BaseHTTPRequestHandler):
    """Hands every method to `respond`; subclasses answer with `send_head` and `send_body`."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    logger = logging.getLogger(__name__)

    def do_GET(self) -> None:
        self.respond()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_GET

    def respond(self) -> None:
        raise NotImplementedError

    def log_message(self, format: str, *args: object) -> None:
        self.logger.debug("%s - %s", self.address_string(), format % args)

    @property
    def raw_path(self) -> tuple[str, str]:
        """(path, query string), both undecoded."""
        path, _, query = self.path.partition("?")
        return path, query

    def send_head(self, status: int, content_type: str, headers: Mapping[str, str],
                  length: int | None) -> None:
        """Status line and headers; without a `length`, the body ends with the connection."""
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        for name, value in headers.items():
            if name.lower() not in ("content-type", "content-length"):
                self.send_header(name, value)
        if length is None:
            self.close_connection = True
        else:
            self.send_header("Content-Length", str(length))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()

    def send_body(self, chunks: Iterable[bytes]) -> bool:
        """Write the body (nothing for HEAD); False when the client went away meanwhile."""
        if self.command == "HEAD":
            return True
        try:
            for chunk in chunks:
                self.wfile.write(chunk)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
            return False
        return True


class RequestBody:
    """A request's body, read lazily from the socket: by Content-Length, or chunked.

    Raises `ConnectionError` when the client closes the connection mid-body.
    """

    def __init__(self, rfile: BinaryIO, headers: Message) -> None:
        self._rfile = rfile
        self.chunked = "chunked" in (headers.get("Transfer-Encoding") or "").lower()
        length = headers.get("Content-Length")
        self.length: int | None = int(length) if length and not self.chunked else None
        self.remaining = self.length or 0  # bytes of a Content-Length body still unread
        self._chunk_left = 0
        self._done = not self.chunked and not self.remaining
        self._cached: bytes | None = None

    @property
    def exhausted(self) -> bool:
        return self._done

    def iter_chunks(self, size: int = CHUNK) -> Iterator[bytes]:
        """The body in pieces of at most `size` bytes, never held whole."""
        while not self._done:
            data = self.read(size)
            if data:
                yield data

    def read_all(self) -> bytes:
        """The whole body (small bodies only), kept for repeated use."""
        if self._cached is None:
            self._cached = b"".join(self.iter_chunks())
        return self._cached

    def drain(self) -> None:
        for _ in self.iter_chunks():
            pass

    def read(self, size: int = CHUNK) -> bytes:
        """At most `size` bytes (b"" once the body is over)."""
        if self._done:
            return b""
        if not self.chunked:
            data = self._rfile.read(min(size, self.remaining))
            if not data:
                raise ConnectionError("the client closed the connection mid-body")
            self.remaining -= len(data)
            self._done = self.remaining == 0
            return data
        if self._chunk_left == 0:
            line = self._rfile.readline(65537)
            if not line:
                raise ConnectionError("the client closed the connection mid-body")
            self._chunk_left = int(line.split(b";")[0].strip() or b"0", 16)
            if self._chunk_left == 0:
                while self._rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                self._done = True
                return b""
        data = self._rfile.read(min(size, self._chunk_left))
        if not data:
            raise ConnectionError("the client closed the connection mid-body")
        self._chunk_left -= len(data)
        if self._chunk_left == 0:
            self._rfile.readline(3)
        return data
