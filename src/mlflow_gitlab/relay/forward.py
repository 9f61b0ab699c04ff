"""Passing a child's request on to the tracking server, and its answer back (an error's body
masked: it may echo the request's token).

Only requests `relay.routes` allowed get here, their path already normalised.
"""

from __future__ import annotations

from collections.abc import Iterator

import requests

from mlflow_gitlab import redaction
from mlflow_gitlab.errors import GitLabAPIError
from mlflow_gitlab.http import allow_transfer, read_body, server_of, transfer_seconds
from mlflow_gitlab.http.answers import BodyTooLarge, first_bytes, short_url, unexpected
from mlflow_gitlab.http.retry import describe_error
from mlflow_gitlab.relay.http import Reply, Request, mlflow_error
from mlflow_gitlab.relay.routes import encoded
from mlflow_gitlab.relay.upstream import Upstream

_CHUNK = 1 << 20
BUFFERED = 16 << 20  # bodies up to this size are held in memory, so a failed send is retried
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length",
               "content-encoding", "content-type", "server", "date"}


def forward(upstream: Upstream, request: Request, *, stream: bool = False) -> Reply:
    """Send `request` on as it came and relay the answer; a body over `BUFFERED` bytes is
    streamed through and gets a single attempt."""
    url = upstream.base + encoded(request.path) + (f"?{request.query}" if request.query else "")
    headers = {"Content-Type": request.headers.get("Content-Type", "application/json")}
    small = request.length <= BUFFERED
    large = {} if small else {
        "attempts": 1, "deadline": transfer_seconds(upstream.request_seconds, request.length)}
    try:
        response = upstream.call(request.method, url, headers=headers, stream=stream,
                                 data=(request.body() or None) if small else request.stream(),
                                 **large)
    except (GitLabAPIError, requests.RequestException) as exc:
        return unavailable(exc)
    return reply_from(response, stream=stream)


def reply_from(response: requests.Response, *, stream: bool = False) -> Reply:
    """The server's answer as a reply to the child: status, type and body (streamed when
    `stream` and the length is known)."""
    content_type = response.headers.get("Content-Type", "application/json")
    headers = {k: v for k, v in response.headers.items()
               if k.lower() not in _HOP_BY_HOP and k.lower() in ("retry-after",
                                                                  "content-disposition")}
    length = response.headers.get("Content-Length")
    if stream and response.ok and length is not None and length.isdigit():
        allow_transfer(response, int(length))
        return Reply(response.status_code, _chunks(response), content_type, int(length),
                     headers)
    try:
        body = read_body(response)
    except BodyTooLarge as exc:
        return unavailable(unexpected(response, str(exc)))
    if response.status_code >= 400:  # an error page may echo the request, token and all
        body = redaction.redact(body.decode(errors="replace")).encode()
    return Reply(response.status_code, body, content_type, headers=headers)


def unavailable(exc: BaseException) -> Reply:
    """The tracking server could not be reached under the retry policy: a 503 the child's
    MLflow client reports (and may retry)."""
    text = redaction.redact(str(exc) if isinstance(exc, GitLabAPIError)
                            else describe_error(exc))
    return mlflow_error(503, "TEMPORARILY_UNAVAILABLE",
                        f"mlflow-gitlab relay: the tracking server is unavailable: {text}")


def odd_answer(upstream: Upstream, request: Request, reply: Reply, problem: str) -> Reply:
    """A 502 for the child: the tracking server answered what GitLab would not send."""
    body = reply.body if isinstance(reply.body, bytes) else b""
    shown = f" starting {first_bytes(body)}" if body.strip() else ""
    return mlflow_error(502, "BAD_GATEWAY", (
        f"mlflow-gitlab relay: unexpected answer from {server_of(upstream.base)} to "
        f"{request.method} {short_url(upstream.base + request.path)}: {reply.status} "
        f"{reply.content_type.split(';')[0]}, {problem}{shown}"))


def _chunks(response: requests.Response) -> Iterator[bytes]:
    try:
        yield from response.iter_content(_CHUNK)
    finally:
        response.close()
