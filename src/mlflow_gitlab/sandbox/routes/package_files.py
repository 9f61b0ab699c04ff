"""Package files shared by the generic and ML-model package endpoints.

Uploads stream from the socket to a temporary file under the data directory, hashing on
the way in, so memory does not grow with the file; only a finished file gets a row.
"""

from __future__ import annotations

import hashlib
import os
import re
import sqlite3
import uuid
from pathlib import Path
from urllib.parse import quote, unquote

from mlflow_gitlab.http.server import RequestBody
from mlflow_gitlab.sandbox import web
from mlflow_gitlab.sandbox.backend.packages import ReceivedFile
from mlflow_gitlab.sandbox.backend.store import Store

_TRAVERSAL = re.compile(r"(\A|[/\\])\.\.([/\\]|\Z)")


def has_traversal(raw: str) -> bool:
    """GitLab's path-traversal check, applied to the decoded (and twice-decoded) value."""
    once = unquote(raw)
    return any(_TRAVERSAL.search(v) for v in (raw, once, unquote(once)))


def stored_name(path: str | None, file_name: str) -> str:
    """GitLab stores `<path>/<file>` URL-encoded (`dir%2Ffile`), listed flat."""
    return quote(f"{path}/{file_name}", safe="") if path else file_name


def receive(store: Store, body: RequestBody, max_size: int, too_large: web.ApiError, *,
            declared_too_large: web.ApiError | None = None) -> ReceivedFile:
    """Stream the request body to disk; `too_large` is raised past `max_size` (0: no limit),
    `declared_too_large` (else `too_large`) for a `Content-Length` over it, unread."""
    if max_size and body.length is not None and body.length > max_size:
        raise declared_too_large or too_large
    blob = f"{uuid.uuid4().hex[:2]}/{uuid.uuid4().hex}"
    target = store.files_dir / blob
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = store.tmp_dir / uuid.uuid4().hex
    sha256, md5, sha1 = hashlib.sha256(), hashlib.md5(), hashlib.sha1()
    size = 0
    try:
        with tmp.open("wb") as fh:
            for chunk in body.iter_chunks():
                size += len(chunk)
                if max_size and size > max_size:
                    raise too_large
                sha256.update(chunk)
                md5.update(chunk)
                sha1.update(chunk)
                fh.write(chunk)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return ReceivedFile(blob, size, sha256.hexdigest(), md5.hexdigest(), sha1.hexdigest())


def store_bytes(store: Store, data: bytes) -> ReceivedFile:
    """Keep bytes already in memory (a multipart field) as a blob."""
    blob = f"{uuid.uuid4().hex[:2]}/{uuid.uuid4().hex}"
    target = store.files_dir / blob
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = store.tmp_dir / uuid.uuid4().hex
    try:
        tmp.write_bytes(data)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return ReceivedFile(blob, len(data), hashlib.sha256(data).hexdigest(),
                        hashlib.md5(data).hexdigest(), hashlib.sha1(data).hexdigest())


def file_response(store: Store, row: sqlite3.Row, display_name: str | None = None
                  ) -> web.Response:
    """A download: the bytes streamed from disk, with GitLab's headers."""
    name = display_name or row["file_name"]
    path: Path = store.blob_path(row["blob"])
    return web.Response(200, file=path, headers={
        "Content-Type": "application/octet-stream",
        "Content-Disposition": f'attachment; filename="{name}"',
        "X-Checksum-SHA256": row["file_sha256"],
    })


def discard_blob(store: Store, received: ReceivedFile) -> None:
    """Remove bytes whose row was never written (a failed transaction)."""
    store.blob_path(received.blob).unlink(missing_ok=True)
