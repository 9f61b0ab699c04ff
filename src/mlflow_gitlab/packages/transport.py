"""Moving one package file: a streamed PUT that re-reads its slice per attempt, a verified GET.

A file is never read whole: `FileSlice` hands the HTTP client 1 MiB at a time, hashing and
reporting progress as it goes, so memory stays flat whatever the size. Every attempt opens
a new slice at its first byte (reference gitlab-ci.md §13.2), and takes back the progress
the failed attempt had reported.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mlflow_gitlab.errors import PackageDownloadError, PackageUploadError
from mlflow_gitlab.gitlab_api import GitLabClient, gitlab_message
from mlflow_gitlab.http import allow_transfer, read_json, transfer_seconds
from mlflow_gitlab.http.deadline import current as current_deadline
from mlflow_gitlab.packages.naming import url_path
from mlflow_gitlab.retry import TransientError

CHUNK = 1 << 20
Hash = Any  # a hashlib object
OnBytes = Callable[[int], None]


def file_url(client: GitLabClient, package: str, version: str, name: str) -> str:
    """The generic-package URL of package file `name` (reference §15)."""
    return f"{client.project_url}/packages/generic/{package}/{version}/{url_path(name)}"


class Cancelled(Exception):
    """Raised inside a transfer when another one failed and the whole upload is stopping."""


class FileSlice:
    """`length` bytes of `path` from `offset`, readable once, as a request body.

    Each read updates `hashes` and calls `on_bytes`; `stop` aborts the read (and the
    request) when set. A file that ends early raises instead of sending a short body.
    """

    def __init__(self, path: Path, offset: int, length: int, hashes: list[Hash],
                 on_bytes: OnBytes, stop: threading.Event) -> None:
        self.path, self.length = path, length
        self.hashes, self.on_bytes, self.stop = hashes, on_bytes, stop
        self.sent = 0
        self._fh = path.open("rb")
        self._fh.seek(offset)

    def __len__(self) -> int:
        return self.length  # requests sends it as Content-Length

    def tell(self) -> int:
        return self.sent

    def read(self, size: int = -1) -> bytes:
        if self.stop.is_set():
            raise Cancelled("stopped")
        deadline = current_deadline()
        if deadline is not None:
            deadline.check()  # a server reading slowly: the request ends at its deadline
        left = self.length - self.sent
        data = self._fh.read(left if size is None or size < 0 else min(size, left))
        if not data and left:
            raise PackageUploadError(f"{self.path} shrank while being uploaded")
        for h in self.hashes:
            h.update(data)
        self.sent += len(data)
        self.on_bytes(len(data))
        return data

    def close(self) -> None:
        self._fh.close()


def hash_slice(path: Path, offset: int, length: int, hashes: list[Hash], on_bytes: OnBytes,
               stop: threading.Event) -> None:
    """Feed `length` bytes of `path` from `offset` to `hashes` (to compare with a stored file)."""
    body = FileSlice(path, offset, length, hashes, on_bytes, stop)
    try:
        while body.read(CHUNK):
            pass
    finally:
        body.close()


def put_slice(client: GitLabClient, url: str, path: Path, offset: int, length: int,
              whole: Hash | None, on_bytes: OnBytes, stop: threading.Event, what: str
              ) -> tuple[str, Hash | None]:
    """PUT one slice under the retry policy; return its SHA-256 and the advanced `whole`.

    `whole` is the running hash of the file so far (None when the slice is the whole
    file): each attempt hashes on a copy of it, so a failed attempt leaves it untouched.

    Raises:
        PackageUploadError: GitLab stored other bytes than those sent.
        GitLabAPIError, ConfigError: the upload failed for good.
    """
    attempts: list[tuple[FileSlice, Hash, Hash | None]] = []

    def body() -> FileSlice:
        if attempts:
            on_bytes(-attempts[-1][0].sent)  # the retry starts over
        part = hashlib.sha256()
        running = whole.copy() if whole is not None else None
        hashes = [part] if running is None else [part, running]
        attempts.append((FileSlice(path, offset, length, hashes, on_bytes, stop), part,
                         running))
        return attempts[-1][0]

    response = client.session.put(url, data=body, params={"select": "package_file"},
                                  deadline=transfer_seconds(client.settings.request_seconds,
                                                            length))
    if response.status_code == 400 and "too large" in gitlab_message(response):
        raise PackageUploadError(
            f"cannot {what}: GitLab says the file is too large ({length} bytes)",
            hint="set MLFLOW_GITLAB_MAX_FILE_SIZE (--max-file-size) to the server's generic "
                 "package file limit: larger files are then split into parts")
    client.check(response, what)
    _, part, running = attempts[-1]
    digest = part.hexdigest()
    stored = read_json(response, dict)
    if stored.get("file_sha256") not in (None, digest) or stored.get("size") not in (None,
                                                                                    length):
        raise PackageUploadError(f"GitLab stored other bytes than were sent for {what} "
                                 f"(SHA-256 {stored.get('file_sha256')} != {digest})",
                                 hint="was the file changed while uploading? upload again")
    return digest, running


def get_slice(client: GitLabClient, url: str, target: Path, offset: int, length: int | None,
              sha256: str | None, whole: Hash | None, on_bytes: OnBytes, stop: threading.Event,
              what: str) -> Hash | None:
    """GET one package file into `target` at `offset`, verified; return the advanced `whole`.

    `whole` is as for `put_slice`; `length` and `sha256` None take the file as GitLab
    sends it, whole by its `Content-Length` (a file no manifest describes). A transfer cut
    short is retried from its first byte; a file whose bytes differ from the manifest is an
    error, found from GitLab's
    `X-Checksum-SHA256` header (reference §15.2) before the body when it is sent.

    Raises:
        PackageDownloadError: the file is missing, or its bytes differ from the manifest.
        GitLabAPIError, ConfigError: the download failed for good.
    """
    received = [0]

    def attempt() -> Hash | None:
        on_bytes(-received[0])
        received[0] = 0
        part = hashlib.sha256()
        running = whole.copy() if whole is not None else None
        hashes = [part] if running is None else [part, running]
        with client.session.get(url, stream=True, retry=False) as response:
            if response.status_code == 404:
                raise PackageDownloadError(f"cannot {what}: the package has no such file",
                                           hint="the package changed after its manifest")
            client.check(response, what)
            allow_transfer(response, length if length is not None
                           else _content_length(response) or 0)
            _check_digest(response.headers.get("X-Checksum-SHA256"), sha256, what)
            with target.open("r+b") as fh:
                fh.seek(offset)
                fh.truncate()
                for chunk in response.iter_content(CHUNK):
                    if stop.is_set():
                        raise Cancelled("stopped")
                    fh.write(chunk)
                    for h in hashes:
                        h.update(chunk)
                    received[0] += len(chunk)
                    on_bytes(len(chunk))
            expected = length if length is not None else _content_length(response)
        if expected is not None and received[0] != expected:
            raise TransientError(f"received {received[0]} of {expected} bytes")
        _check_digest(part.hexdigest(), sha256, what)
        return running

    return client.retrier.call(attempt, what)


def _check_digest(actual: str | None, expected: str | None, what: str) -> None:
    if actual is not None and expected is not None and actual != expected:
        raise PackageDownloadError(
            f"cannot {what}: its SHA-256 {actual} is not the manifest's {expected}",
            hint="the package changed after its manifest was uploaded; upload it again")


def _content_length(response: Any) -> int | None:
    """The body's size as sent, when it is also the size received (not re-encoded)."""
    if response.headers.get("Content-Encoding", "identity") != "identity":
        return None
    value = response.headers.get("Content-Length", "")
    return int(value) if value.isdigit() else None
