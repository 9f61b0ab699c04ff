"""Reading GitLab's answers: bodies capped in memory, JSON of the expected shape, error text.

Anything that is not what GitLab would send (HTML where JSON is expected, a list for an
object, missing keys, an empty or over-large body) becomes one `UnexpectedAnswer` line
naming the server (host:port), the call, and what came back: status, content type and
its first bytes, redacted.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

import requests

from mlflow_gitlab.errors import UnexpectedAnswer
from mlflow_gitlab.redaction import Redactor

BODY_LIMIT = 16 << 20  # bytes of one answer held in memory (file downloads stream)
_SHOWN = 80  # bytes of an odd answer quoted in its error line
CREDENTIAL_HEADERS = ("PRIVATE-TOKEN", "JOB-TOKEN", "DEPLOY-TOKEN", "Authorization", "Cookie")
_CREDENTIALS = {h.upper() for h in CREDENTIAL_HEADERS}
_HINT = ("is the URL GitLab's (MLFLOW_GITLAB_URL, MLFLOW_TRACKING_URI)? a proxy or a sign-in "
         "page may be answering in its place")


class BodyTooLarge(Exception):
    """An answer's body is over the limit of what is read into memory."""


def read_body(response: requests.Response, limit: int = BODY_LIMIT) -> bytes:
    """The whole body, read at most once and never more than `limit` bytes.

    Raises:
        BodyTooLarge: the body (or its announced length) is over `limit`; the first bytes
            are kept as the response's content, for the error line.
    """
    if response._content_consumed or response._content is not False:
        return response.content or b""
    length = response.headers.get("Content-Length", "")
    body = bytearray()
    try:
        if not (length.isdigit() and int(length) > limit):
            for chunk in response.iter_content(64 << 10):
                body += chunk
                if len(body) > limit:
                    break
        else:
            body += next(response.iter_content(4096), b"")
    finally:
        over = len(body) > limit or (length.isdigit() and int(length) > limit)
        if over:
            response.close()
    response._content = bytes(body[:4096] if over else body)
    response._content_consumed = True
    if over:
        raise BodyTooLarge(f"a body over {limit >> 20} MiB")
    return response._content


def read_json(response: requests.Response, shape: type = dict, *,
              keys: Iterable[str] = ()) -> Any:
    """The answer's JSON, checked to be of `shape` (`dict` or `list`).

    Args:
        response: a successful answer (check its status first).
        shape: `dict` for an object, `list` for a list of objects.
        keys: keys the object, or every object in the list, must have.

    Raises:
        UnexpectedAnswer: an empty, over-large or non-JSON body, another shape, or a
            missing key; one line saying which server, which call and what came back.
    """
    try:
        body = read_body(response)
    except BodyTooLarge as exc:
        raise unexpected(response, str(exc)) from None
    if not body.strip():
        raise unexpected(response, "an empty body")
    try:
        value = json.loads(body)
    except ValueError:
        raise unexpected(response, "not JSON") from None
    name = "an object" if shape is dict else "a list"
    if not isinstance(value, shape):
        raise unexpected(response, f"JSON but not {name}")
    wanted = tuple(keys)
    items = value if shape is list else [value]
    for item in items:
        if not isinstance(item, dict):
            raise unexpected(response, "a list of something else than objects")
        missing = [k for k in wanted if k not in item]
        if missing:
            raise unexpected(response, f"{name} without {', '.join(map(repr, missing))}")
    return value


def json_or_none(response: requests.Response) -> Any:
    """The body as JSON, or None when it is not JSON (or too large): for error answers."""
    try:
        return json.loads(read_body(response))
    except (BodyTooLarge, ValueError):
        return None


def unexpected(response: requests.Response, problem: str) -> UnexpectedAnswer:
    """The one-line error for an answer GitLab would not send."""
    request = response.request
    method, url = (request.method or "", request.url or "") if request else ("", response.url)
    content_type = response.headers.get("Content-Type", "no content type").split(";")[0]
    body = response._content if isinstance(response._content, bytes) else b""
    shown = f" starting {first_bytes(body, response)}" if body.strip() else ""
    return UnexpectedAnswer(
        f"unexpected answer from {server_of(url)} to {method} {short_url(url)}: "
        f"{response.status_code} {content_type}, {problem}{shown}", hint=_HINT)


def first_bytes(body: bytes, response: requests.Response | None = None) -> str:
    """The first ~80 bytes of a body as one quoted line, redacted (the tokens of the
    environment and the credentials the request carried)."""
    text = " ".join(body[:4096].decode("utf-8", errors="replace").split())
    text = Redactor(_sent_credentials(response)).redact(Redactor.from_env().redact(text))
    clipped = text[:_SHOWN] + ("…" if len(text) > _SHOWN else "")
    return json.dumps(clipped, ensure_ascii=False)


def _sent_credentials(response: requests.Response | None) -> list[str]:
    request = response.request if response is not None else None
    if request is None:
        return []
    values = [v for k, v in request.headers.items() if k.upper() in _CREDENTIALS]
    return values + [v.split(" ", 1)[-1] for v in values]  # `Bearer <token>`


def server_of(url: str) -> str:
    """`host:port` of a URL, never its credentials or path."""
    parts = urlsplit(url)
    try:
        port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    except ValueError:
        port = None
    host = parts.hostname or "?"
    return f"{host}:{port}" if port else host


def short_url(url: str) -> str:
    """A URL's path after `/projects/<id>/`, without host or query: fit for a log line."""
    path = urlsplit(url).path
    _, found, rest = path.partition("/projects/")
    return rest.partition("/")[2] if found and "/" in rest else path


def gitlab_message(response: requests.Response) -> str:
    """GitLab's error text from any of its three body shapes, one line.

    GitLab answers `{"message": ...}` (REST helpers, a string, list or object),
    `{"error": ...}` (validation) or `{"error_code": ..., "message": ...}` (MLflow); a body
    over the memory limit is not read.
    """
    raw = response._content if isinstance(response._content, bytes) else b""
    return message_in(json_or_none(response), raw, response.reason or "")


def message_in(body: object, raw: bytes, fallback: str) -> str:
    """GitLab's error text in a decoded JSON `body` (or, when it has none, in the `raw`
    bytes), one line of at most 300 characters; `fallback` for an empty answer."""
    if isinstance(body, dict):
        text = body.get("message") or body.get("error") or body.get("error_code") or ""
        if isinstance(text, dict):  # `{"message": {"error": ...}}`, `{"field": ["is ..."]}`
            text = "; ".join(str(v) if k == "error" else f"{k} {_joined(v)}"
                             for k, v in text.items())
        text = "; ".join(map(str, text)) if isinstance(text, list) else str(text)
    else:
        text = raw.decode("utf-8", errors="replace")
    return (text.strip().splitlines() or [fallback])[0][:300]


def _joined(value: object) -> str:
    return ", ".join(map(str, value)) if isinstance(value, list) else str(value)


def transient_status(response: requests.Response) -> str:
    """`429 Too Many Requests` and, for a JSON 429 (an application limit such as
    `notes_create`, not Rack::Attack's plain `Retry later`), `: <GitLab's words>`."""
    said = f"{response.status_code} {response.reason}"
    if response.status_code != 429 or "json" not in response.headers.get("Content-Type", ""):
        return said
    message = gitlab_message(response)
    return f"{said}: {message}" if message else said
