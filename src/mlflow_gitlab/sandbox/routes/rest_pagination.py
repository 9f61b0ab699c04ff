"""REST offset pagination: `page`/`per_page`, the `X-*` headers and the `Link` header.

GitLab's behaviour (`lib/api/helpers/pagination_params.rb`,
`lib/gitlab/pagination/offset_pagination.rb`, `offset_header_builder.rb`): `per_page` defaults
to 20 and is clamped to 100; values below 1 are a Grape 400; `X-Next-Page`/`X-Prev-Page` are
empty strings when there is none; `X-Total-Pages` is at least 1; Link URLs carry the request's
parameters, sorted, with `page` and `per_page` replaced (Rails `to_query`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote_plus, unquote

from mlflow_gitlab.sandbox import web

DEFAULT_PAGE = 1
DEFAULT_PER_PAGE = 20
MAX_PER_PAGE = 100
# Above this many records GitLab stops counting: no X-Total, X-Total-Pages or rel="last".
MAX_COUNT = 10_000


@dataclass(frozen=True)
class Page:
    """Which slice of a list a request asks for."""

    number: int
    size: int

    @property
    def offset(self) -> int:
        return (self.number - 1) * self.size


def page_of(req: web.Request) -> Page:
    """The requested page, validated as GitLab's `:pagination` params are."""
    errors = pagination_errors(req)
    if errors:
        raise web.grape_error(", ".join(errors))
    page = _integer(req, "page", DEFAULT_PAGE) or 0
    per_page = _integer(req, "per_page", DEFAULT_PER_PAGE) or 0
    # `verify_pagination_params!` runs after Grape's validation, one message at a time.
    if page < 1:
        raise web.grape_error("page does not have a valid value")
    if per_page < 1:
        raise web.grape_error("per_page does not have a valid value")
    return Page(page, min(per_page, MAX_PER_PAGE))


def pagination_errors(req: web.Request) -> list[str]:
    """Grape's messages for `page`/`per_page` (type and `except_values: [0]`).

    An endpoint with more parameters puts these first, since `use :pagination` comes first
    in its params block and Grape joins every message into one 400.
    """
    errors = [f"{name} is invalid" for name in ("page", "per_page")
              if _integer(req, name, 0) is None]
    if not errors and _integer(req, "per_page", DEFAULT_PER_PAGE) == 0:
        errors.append("per_page has a value not allowed")
    return errors


def paginated(req: web.Request, items: list[Any],
              defaults: Mapping[str, str] | None = None) -> web.Response:
    """A 200 response with the requested page of `items` and GitLab's pagination headers.

    `defaults` are the endpoint's declared parameter defaults (`{"sort": "asc"}`): Grape
    writes them into `params`, so they appear in the Link URLs although the client did not
    send them.
    """
    page = page_of(req)
    rows = items[page.offset:page.offset + page.size]
    return web.Response(200, rows, pagination_headers(req, page, len(items), defaults))


def pagination_headers(req: web.Request, page: Page, total: int,
                       defaults: Mapping[str, str] | None = None) -> dict[str, str]:
    """`X-Page`, `X-Per-Page`, `X-Next-Page`, `X-Prev-Page`, `Link`, `X-Total(-Pages)`."""
    total_pages = max(math.ceil(total / page.size), 1)
    in_range = page.number <= math.ceil(total / page.size)  # Kaminari's `out_of_range?`
    next_page = page.number + 1 if in_range and page.number < total_pages else None
    prev_page = page.number - 1 if in_range and page.number > 1 else None
    counted = total <= MAX_COUNT
    rels = [(prev_page, "prev"), (next_page, "next"), (1, "first")]
    if counted:
        rels.append((total_pages, "last"))
    links = [f'<{_page_url(req, number, page.size, defaults or {})}>; rel="{rel}"'
             for number, rel in rels if number]
    headers = {
        "X-Per-Page": str(page.size),
        "X-Page": str(page.number),
        "X-Next-Page": str(next_page or ""),
        "X-Prev-Page": str(prev_page or ""),
        "Link": ", ".join(links),
    }
    if counted:
        headers["X-Total"] = str(total)
        headers["X-Total-Pages"] = str(total_pages)
    return headers


def _integer(req: web.Request, name: str, default: int) -> int | None:
    """A query parameter as an integer; `default` when absent, None when not an integer."""
    raw = req.query.get(name, [""])[-1].strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        return None


def _page_url(req: web.Request, number: int, size: int, defaults: Mapping[str, str]) -> str:
    """The request's absolute URL for another page, built as GitLab builds it.

    GitLab uses Grape's `params`: the route's path parameters (`id`), the query (the last
    value of a repeated key, every value of a `key[]`) and the declared defaults, with
    `page`/`per_page` replaced, through Rails `to_query` (CGI-escaped pairs, sorted).
    """
    params: dict[str, list[str]] = {k: [v] for k, v in defaults.items()}
    params.update({k: [unquote(v)] for k, v in req.path_params.items()})
    params.update({k: v if k.endswith("[]") else v[-1:] for k, v in req.query.items()})
    params["page"], params["per_page"] = [str(number)], [str(size)]
    pairs = ["&".join(f"{quote_plus(key, safe='')}={quote_plus(value, safe='')}"
                      for value in values) for key, values in params.items()]
    return f"{req.base_url}{req.raw_path}?{'&'.join(sorted(pairs))}"
