"""Moving one package file: a streamed PUT that re-reads its slice per attempt, a verified GET.

A file is never read whole: `FileSlice` hands the HTTP client 1 MiB at a time, hashing and
reporting progress as it goes, so memory stays flat whatever the size. Every attempt opens
a new slice at its first byte, and takes back the progress the failed attempt had reported.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mlflow_gitlab.errors import (
    DuplicateRefused,
    GitLabAPIError,
    PackageDownloadError,
    PackageUploadError,
)
from mlflow_gitlab.gitlab_api import GitLabClient, gitlab_message
from mlflow_gitlab.http import allow_transfer, read_json, short_url, transfer_seconds
from mlflow_gitlab.http.deadline import current as current_deadline
from mlflow_gitlab.http.paths import url_path
from mlflow_gitlab.http.retry import TransientError
from mlflow_gitlab.settings import DEFAULT_MAX_FILE_SIZE

CHUNK = 1 << 20
Hash = Any  # a hashlib object
OnBytes = Callable[[int], None]


def file_url(client: GitLabClient, package: str, version: str, name: str) -> str:
    """The generic-package URL of package file `name`."""
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


DUPLICATE = "Duplicate package is not allowed"
_WORKHORSE_MAXIMUM = re.compile(r"maximum of (\d+) bytes")
SIZE_HINT = ("the instance setting generic_packages_max_file_size is below this file: set "
             "MLFLOW_GITLAB_MAX_FILE_SIZE (--max-file-size) to it, and larger files are split "
             "into parts")


def put_slice(client: GitLabClient, url: str, path: Path, offset: int, length: int,
              whole: Hash | None, on_bytes: OnBytes, stop: threading.Event, what: str,
              known_limit: int = 0) -> tuple[str, Hash | None]:
    """PUT one slice under the retry policy; return its SHA-256 and the advanced `whole`.

    `whole` is the running hash of the file so far (None when the slice is the whole
    file): each attempt hashes on a copy of it, so a failed attempt leaves it untouched.
    A file over the instance's limit is refused by Workhorse, in front of Rails: 413 when
    the stream runs past it (and, on recent versions, for a `Content-Length` over it), 500
    on older versions for a `Content-Length` over it. That 500 is not retried when the
    slice is over `known_limit` (GitLab's default limit when 0), and the error after the
    retries of any other 500 names the instance setting.

    Raises:
        DuplicateRefused: the package already holds a file of this name, and its group
            does not allow duplicates.
        PackageUploadError: the file is too large for GitLab, or GitLab stored other bytes
            than those sent.
        GitLabAPIError, ConfigError: the upload failed for good.
    """
    attempts: list[tuple[FileSlice, Hash, Hash | None]] = []
    limit = known_limit or DEFAULT_MAX_FILE_SIZE
    deadline = transfer_seconds(client.settings.request_seconds, length)

    def attempt() -> Any:
        if attempts:
            on_bytes(-attempts[-1][0].sent)  # the retry starts over
        part = hashlib.sha256()
        running = whole.copy() if whole is not None else None
        hashes = [part] if running is None else [part, running]
        body = FileSlice(path, offset, length, hashes, on_bytes, stop)
        attempts.append((body, part, running))
        try:
            return client.session.put(url, data=body, params={"select": "package_file"},
                                      deadline=deadline, retry=False)
        except TransientError as exc:
            if exc.status == 500 and length > limit:
                raise _too_large(what, length, None) from exc
            raise
        finally:
            body.close()

    try:
        response = client.retrier.call(attempt, f"PUT {short_url(url)}")
    except GitLabAPIError as exc:
        cause = exc.__cause__
        if isinstance(cause, TransientError) and cause.status == 500:
            raise GitLabAPIError(str(exc), hint="if the file is over the instance's "
                                 f"limit, older GitLab versions answer 500: {SIZE_HINT}"
                                 ) from exc
        raise
    message = gitlab_message(response)
    if response.status_code == 413 or (response.status_code == 400 and "too large" in message):
        found = _WORKHORSE_MAXIMUM.search(message)
        raise _too_large(what, length, int(found.group(1)) if found else None)
    body, part, running = attempts[-1]
    if response.status_code == 400 and DUPLICATE in message:
        raise DuplicateRefused(f"cannot {what}: GitLab says {DUPLICATE!r}",
                               part.hexdigest() if body.sent == length else None)
    client.check(response, what)
    digest = part.hexdigest()
    stored = read_json(response, dict)
    if stored.get("file_sha256") not in (None, digest) or stored.get("size") not in (None,
                                                                                    length):
        raise PackageUploadError(f"GitLab stored other bytes than were sent for {what} "
                                 f"(SHA-256 {stored.get('file_sha256')} != {digest})",
                                 hint="was the file changed while uploading? upload again")
    return digest, running


def _too_large(what: str, length: int, maximum: int | None) -> PackageUploadError:
    limit = f", over GitLab's limit of {maximum} bytes" if maximum is not None else ""
    return PackageUploadError(
        f"cannot {what}: GitLab refuses the file as too large ({length} bytes{limit})",
        hint=SIZE_HINT)


def get_slice(client: GitLabClient, url: str, target: Path, offset: int, length: int | None,
              sha256: str | None, whole: Hash | None, on_bytes: OnBytes, stop: threading.Event,
              what: str) -> Hash | None:
    """GET one package file into `target` at `offset`, verified; return the advanced `whole`.

    `whole` is as for `put_slice`; `length` and `sha256` None take the file as GitLab
    sends it, whole by its `Content-Length` (a file no manifest describes). A transfer cut
    short is retried from its first byte; a file whose bytes differ from the manifest is an
    error, found from GitLab's
    `X-Checksum-SHA256` header (`lib/api/generic_packages.rb`) before the body when it is sent.

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
