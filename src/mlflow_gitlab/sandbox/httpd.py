"""The sandbox's HTTP server: raw requests to the App, with faults injected on the wire.

On the shared server core (`mlflow_gitlab.http.server`): uploads stream from the socket to
disk, and fault injection may delay, drip, or drop a connection mid-body.
"""

from __future__ import annotations

import contextlib
import logging
import math
import socket
import sys
import threading
import time
import traceback
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs

from mlflow_gitlab.http.server import CHUNK, RequestBody, RequestHandler, ThreadedServer
from mlflow_gitlab.sandbox import web
from mlflow_gitlab.sandbox.app import App
from mlflow_gitlab.sandbox.faults import Fault, echoed_request

log = logging.getLogger("mlflow_gitlab.sandbox")

RATE_LIMIT_BODY = "Retry later\n"


class SandboxHTTPServer(ThreadedServer):
    """Tracks its open connections, so that stopping can cut them as a dying server does."""

    log = log

    def __init__(self, address: tuple[str, int], app: App) -> None:
        self.app = app
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        self.stopped = False  # set by `drop_connections`: handlers still running answer nothing
        self._dispatching = 0  # handlers inside the App (using its store), under `_idle`
        self._idle = threading.Condition()
        super().__init__(address, _Handler)

    def process_request(self, request: socket.socket, client_address: object) -> None:
        with self._open_lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: socket.socket) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    @contextlib.contextmanager
    def dispatching(self) -> Iterator[bool]:
        """Count a handler in the App for `wait_idle`; yields False once stopped (don't)."""
        with self._idle:
            serving = not self.stopped
            self._dispatching += serving
        if not serving:
            yield False
            return
        try:
            yield True
        finally:
            with self._idle:
                self._dispatching -= 1
                self._idle.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no handler is in the App (after `drop_connections`); False on timeout."""
        with self._idle:
            return self._idle.wait_for(lambda: self._dispatching == 0, timeout)

    def drop_connections(self) -> None:
        """Stop answering and cut every open connection, as a server that goes away does
        (keep-alive ones too). Handlers still running answer nothing."""
        with self._idle:
            self.stopped = True
        with self._open_lock:
            connections = list(self._open)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


class _Handler(RequestHandler):
    server: SandboxHTTPServer
    logger = log

    def version_string(self) -> str:
        return "nginx"

    def respond(self) -> None:
        app = self.server.app
        raw_path, query_string = self.raw_path
        request = web.Request(
            method=self.command,
            raw_path=raw_path,
            query=parse_qs(query_string, keep_blank_values=True),
            headers=self.headers,
            base_url=app.base_url,
            body=RequestBody(self.rfile, self.headers),
            app=app,
        )
        fault = app.faults.take(self.command, raw_path)
        try:
            if fault is not None and fault.delay:
                time.sleep(fault.delay)
            if self.server.stopped:  # it went down meanwhile, as if it had died
                self.close_connection = True
                return
            if (fault is not None and fault.drop and not fault.processed
                    and not request.body.exhausted):
                self._drop_during_upload(request.body, fault)
                return
            if fault is not None and fault.echo is not None:
                body, content_type = echoed_request(fault, self.requestline,
                                                    self.headers.items())
                response = web.Response(fault.status, body, {"Content-Type": content_type})
            elif fault is not None and fault.status is not None and not fault.processed:
                response = _fault_response(fault)
            else:
                with self.server.dispatching() as serving:
                    if not serving:
                        self.close_connection = True
                        return
                    response = app.dispatch(request)
                if fault is not None and fault.processed and fault.status is not None:
                    response = _fault_response(fault)
            request.body.drain()
        except ConnectionError:
            self.close_connection = True
            return
        except Exception:
            self.close_connection = True
            if self.server.stopped:  # stopped under it (the store may be closed): no answer
                return
            # An endpoint bug: answer as GitLab's 500 and keep serving.
            traceback.print_exc(file=sys.stderr)
            response = web.Response(500, {"message": "500 Internal Server Error"})
        if self.server.stopped:
            self.close_connection = True
            return
        if fault is not None and fault.drip:
            self._drip(response, fault.drip)
            return
        self._send(response, fault if fault is not None and fault.drop else None)

    def _drop_during_upload(self, body: RequestBody, fault: Fault) -> None:
        """Read `drop_after` bytes of the body, then reset the connection."""
        seen = 0
        for chunk in body.iter_chunks(min(CHUNK, max(fault.drop_after, 1))):
            seen += len(chunk)
            if seen >= fault.drop_after:
                break
        self._reset()

    def _reset(self) -> None:
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                       b"\x01\x00\x00\x00\x00\x00\x00\x00")
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _send(self, response: web.Response, drop: Fault | None) -> None:
        payload = b"" if response.file is not None else response.payload()
        length = response.file.stat().st_size if response.file is not None else len(payload)
        try:
            self.send_head(response.status, response.content_type(), response.headers, length)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
            return
        limit = drop.drop_after if drop is not None else None
        chunks = (_file_chunks(response.file, limit) if response.file is not None
                  else [payload if limit is None else payload[:limit]])
        if self.send_body(chunks) and drop is not None:
            self.wfile.flush()
            self._reset()

    def _drip(self, response: web.Response, interval: float) -> None:
        """Send the whole answer, status line first, one byte every `interval` seconds."""
        payload = response.file.read_bytes() if response.file is not None else response.payload()
        head = [f"HTTP/1.1 {response.status} {self.responses.get(response.status, ('',))[0]}",
                f"Content-Type: {response.content_type()}", f"Content-Length: {len(payload)}",
                "Connection: close",
                *(f"{k}: {v}" for k, v in response.headers.items() if k != "Content-Type")]
        self.close_connection = True
        for byte in ("\r\n".join(head).encode() + b"\r\n\r\n" + payload):
            if self.server.stopped:
                return
            try:
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
            except OSError:
                return
            time.sleep(interval)


def _file_chunks(path: Path, limit: int | None) -> Iterator[bytes]:
    """A file's bytes from disk, the first `limit` of them only when given."""
    sent = 0
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            if limit is not None and sent + len(chunk) > limit:
                yield chunk[: limit - sent]
                return
            yield chunk
            sent += len(chunk)


def _fault_response(fault: Fault) -> web.Response:
    """What GitLab (or its load balancer) answers for an injected status."""
    assert fault.status is not None
    if fault.location is not None:
        return web.Response(fault.status, fault.body or "", {"Location": fault.location})
    if fault.body is not None:
        return web.Response(fault.status, fault.body, {"Content-Type": fault.content_type}
                            if fault.content_type else {})
    if fault.status == 429:
        retry_after = fault.retry_after if fault.retry_after is not None else 1
        reset = int(time.time() + retry_after)
        headers = {
            "Retry-After": _seconds(retry_after),
            "RateLimit-Name": "throttle_authenticated_api",
            "RateLimit-Limit": "2000",
            "RateLimit-Observed": "2001",
            "RateLimit-Remaining": "0",
            "RateLimit-Reset": str(reset),
            "RateLimit-ResetTime": time.strftime("%a, %d %b %Y %H:%M:%S GMT",
                                                 time.gmtime(reset)),
        }
        return web.Response(429, RATE_LIMIT_BODY, headers)
    if fault.status == 503:
        return web.Response(503, "503 Service Temporarily Unavailable\n",
                            {"Retry-After": _seconds(fault.retry_after)}
                            if fault.retry_after is not None else {})
    if fault.status >= 500:
        return web.Response(fault.status, {"message": f"{fault.status} Internal Server Error"})
    return web.Response(fault.status, {"message": f"{fault.status} injected"})


def _seconds(value: float | None) -> str:
    """HTTP wants whole seconds; clients (urllib3) reject fractions."""
    return str(math.ceil(value or 0))
