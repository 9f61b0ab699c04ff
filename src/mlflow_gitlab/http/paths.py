"""File paths as URL paths: each segment percent-encoded, the slashes kept."""

from __future__ import annotations

from urllib.parse import quote


def url_path(path: str) -> str:
    """`dir/my file+1` -> `dir/my%20file%2B1`: each segment percent-encoded for a URL."""
    return "/".join(quote(segment, safe="") for segment in path.split("/"))
