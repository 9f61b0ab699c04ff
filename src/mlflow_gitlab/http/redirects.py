"""Redirect rules: credentials stay with their origin, and an upload is never sent twice.

GitLab with object storage answers a package file download with a redirect to a signed
bucket URL (`present_carrierwave_file!` in GitLab's `lib/api/helpers.rb`): it is followed,
but no credential header crosses to another scheme, host or port (requests alone strips
only `Authorization`, and keeps it from http to https). A request with a body answered by
any redirect is refused at once: the body is not sent on, to that host or another.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import requests

from mlflow_gitlab.errors import RedirectRefused
from mlflow_gitlab.http.answers import CREDENTIAL_HEADERS, server_of, short_url

_DEFAULT_PORTS = {"http": 80, "https": 443}
_REDIRECT_BODY = 64 << 10  # bytes of a redirect's own body read at most


def origin(url: str) -> tuple[str, str, int | None]:
    """(scheme, host, port) with the scheme's default port filled in."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    return scheme, (parts.hostname or "").lower(), port or _DEFAULT_PORTS.get(scheme)


class RedirectRules:
    """Mixed into a `requests.Session`: strict origins for credentials, no re-sent body."""

    def should_strip_auth(self, old_url: str, new_url: str) -> bool:
        return origin(old_url) != origin(new_url)

    def rebuild_auth(self, prepared_request: requests.PreparedRequest,
                     response: requests.Response) -> None:
        """Drop every credential header when the redirect leaves the origin (no .netrc
        credentials are added for the new one)."""
        previous = response.request.url or ""
        if self.should_strip_auth(previous, prepared_request.url or ""):
            for header in CREDENTIAL_HEADERS:
                prepared_request.headers.pop(header, None)

    def resolve_redirects(self, resp: requests.Response, req: requests.PreparedRequest,
                          *args: Any, yield_requests: bool = False, **kwargs: Any) -> Any:
        if not yield_requests and resp.is_redirect:
            refuse_upload(resp, req)
        for item in super().resolve_redirects(  # type: ignore[misc]
                resp, req, *args, yield_requests=yield_requests, **kwargs):
            if not yield_requests and isinstance(item, requests.Response) and item.is_redirect:
                _read_small(item)
            yield item

    def get_redirect_target(self, resp: requests.Response) -> str | None:
        target = super().get_redirect_target(resp)  # type: ignore[misc]
        if target:
            _read_small(resp)
        return target


def has_body(request: requests.PreparedRequest) -> bool:
    if request.body is not None and request.body != b"" and request.body != "":
        return True
    length = request.headers.get("Content-Length", "0")
    return "Transfer-Encoding" in request.headers or (length.isdigit() and int(length) > 0)


def refuse_upload(response: requests.Response, request: requests.PreparedRequest) -> None:
    """Raise `RedirectRefused` when `request` carried a body.

    Raises:
        RedirectRefused: naming the server, the call and where it redirected to.
    """
    if not has_body(request):
        return
    location = response.headers.get("Location", "")
    target = server_of(requests.compat.urljoin(request.url or "", location))
    response.close()
    raise RedirectRefused(
        f"{server_of(request.url or '')} answered {request.method} "
        f"{short_url(request.url or '')} with a redirect ({response.status_code}) to "
        f"{target}: an upload is not sent again after a redirect",
        hint="point MLFLOW_GITLAB_URL (or MLFLOW_TRACKING_URI) at the address GitLab "
             "answers on itself, without redirects")


def _read_small(response: requests.Response) -> None:
    """Read at most 64 KiB of a redirect's own body (requests would read it whole)."""
    if response._content_consumed or response._content is not False:
        return
    body = b""
    try:
        for chunk in response.iter_content(16 << 10):
            body += chunk
            if len(body) >= _REDIRECT_BODY:
                break
    except requests.RequestException:
        pass
    response._content = body[:_REDIRECT_BODY]
    response._content_consumed = True
