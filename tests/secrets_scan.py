"""Find token values wherever the tool could have put them: what it printed, the files it
wrote, and what a sandbox stored (tags, params, notes, names, package files). A token is
also found without the whitespace it was given with, percent-encoded (any of its characters,
as in a URL's userinfo), and base64-encoded: as Basic auth credentials (`<user>:<token>`) of
GitLab's own users anywhere or of any user after "Basic ", and the token alone.

`conftest.py` scans after every test, so a leak anywhere in the suite is reported as an
error in the teardown of the test that caused it. Reports name where a token was (a
command, a file, a column), never the token.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import os
import re
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote_to_bytes

if TYPE_CHECKING:
    from mlflow_gitlab.sandbox import Sandbox
    from mlflow_gitlab.sandbox.backend.store import Store

MIN_LENGTH = 9  # shorter values (placeholders like "x") would match everywhere
MAX_FILE_BYTES = 64 << 20  # larger files are benchmark data, not tool output
SANDBOX_DB = "sandbox.db"  # marks a sandbox's data directory, where tokens live by design
_SANDBOX_DIRS = {"files", "tmp"}  # its blobs and uploads in progress, next to SANDBOX_DB
_SKIP_TABLES = {"tokens", "deploy_tokens", "meta"}  # where the sandbox keeps the tokens
_START = 6  # bytes of a token's beginning that are searched for first
# GitLab's fixed Basic-auth user names (job token, OAuth token): `<user>:<token>` in base64
# is looked for anywhere, as in docker's config.json; any other user's after a "Basic " only.
BASIC_USERS = ("gitlab-ci-token", "oauth2")
_BASIC_MARKERS = (b"Basic ", b"basic ", b"BASIC ")
_BASE64 = re.compile(rb"[A-Za-z0-9+/]{4,}={0,2}")

known: set[str] = set()  # every token value seen this session: issued by a sandbox or given
allowed: set[Path] = set()  # files a test wrote with tokens in them on purpose


def remember(values: Iterable[str]) -> None:
    """Add token values to the ones every later scan looks for."""
    new = {v.strip() for v in values if len(v.strip()) >= MIN_LENGTH} - known
    known.update(new)
    _known_needles.add(new)


def allow(path: Path) -> None:
    """Skip a file this test wrote holding tokens by design (a child's env dump, a ready file)."""
    allowed.add(Path(path).resolve())


class Needles:
    """Token values, searchable in many bytes at once: one `in` per token is too slow for the
    thousands a session issues, but they share few beginnings ("glpat-", "glcbt-", and the
    base64 of "gitlab-ci-token:"), so each beginning is found at C speed and only its hits
    are looked up."""

    def __init__(self, tokens: Iterable[str] = ()) -> None:
        self.tokens: set[bytes] = set()
        self.by_start: dict[bytes, dict[int, set[bytes]]] = {}
        self.add(tokens)

    def add(self, tokens: Iterable[str]) -> None:
        for token in (t.strip().encode() for t in tokens if len(t.strip()) >= MIN_LENGTH):
            for needle in (token, *(_basic(user.encode(), token) for user in BASIC_USERS),
                           *(_alone(token, altchars) for altchars in (None, b"-_"))):
                self.tokens.add(needle)
                sizes = self.by_start.setdefault(needle[:_START], {})
                sizes.setdefault(len(needle), set()).add(needle)

    def found_in(self, data: bytes | str) -> bool:
        if isinstance(data, str):
            data = data.encode(errors="replace")
        if self._found_plain(data) or any(
                self._found_plain(credentials) for credentials in _basic_credentials(data)):
            return True
        return b"%" in data and self._found_plain(unquote_to_bytes(data))

    def _found_plain(self, data: bytes) -> bool:
        for start, sizes in self.by_start.items():
            at = data.find(start)
            while at >= 0:
                if any(data[at:at + size] in same for size, same in sizes.items()):
                    return True
                at = data.find(start, at + 1)
        return False

    def mask(self, text: str) -> str:
        """`text` with every token replaced, safe to show in a failure message."""
        for token in sorted(self.tokens, key=len, reverse=True):
            text = text.replace(token.decode(errors="replace"), "[MASKED]")
        return text


def _basic(user: bytes, token: bytes) -> bytes:
    """The base64 of `user:token` as Basic auth sends it, cut to its whole 3-byte groups
    (the last characters depend on what is padded or follows)."""
    return _alone(user + b":" + token)


def _alone(data: bytes, altchars: bytes | None = None) -> bytes:
    """The base64 of `data` (standard, or URL-safe with `altchars`), cut to its whole
    3-byte groups."""
    return base64.b64encode(data[: len(data) // 3 * 3], altchars)


def _basic_credentials(data: bytes) -> Iterator[bytes]:
    """The decoded value after each "Basic " in `data` (any user's credentials)."""
    for marker in _BASIC_MARKERS:
        at = data.find(marker)
        while at >= 0:
            match = _BASE64.match(data, at + len(marker))
            if match:
                with contextlib.suppress(binascii.Error, ValueError):
                    yield base64.b64decode(match[0] + b"==")
            at = data.find(marker, at + 1)


_known_needles = Needles()  # `known`, kept searchable as it grows


def leaks_in_output(printed: Sequence[tuple[str, str]], needles: Needles) -> list[str]:
    """`output of <command>` for each recorded output holding a token."""
    return [f"output of `{needles.mask(what)}`" for what, text in printed
            if needles.found_in(text)]


def sandbox_dirs(root: Path) -> list[Path]:
    """The sandbox data directories under `root`."""
    return sorted(p.parent for p in root.rglob(SANDBOX_DB))


def written_files(root: Path) -> Iterator[Path]:
    """Regular files under `root`, outside sandbox data directories, not allowed, not huge."""
    for folder, dirs, files in os.walk(root):
        if SANDBOX_DB in files:  # skip what the sandbox keeps: its database and blobs
            dirs[:] = [d for d in dirs if d not in _SANDBOX_DIRS]
            files = [f for f in files if not f.startswith(SANDBOX_DB)]
        dirs.sort()
        for name in sorted(files):
            path = Path(folder) / name
            if path.is_symlink() or not path.is_file() or path.resolve() in allowed:
                continue
            if path.stat().st_size <= MAX_FILE_BYTES:
                yield path


def leaks_in_files(root: Path, needles: Needles) -> list[str]:
    """`file <path relative to root>` for each written file holding a token."""
    leaks = []
    for path in written_files(root):
        try:
            data = path.read_bytes()
        except OSError:
            continue
        if needles.found_in(data):
            leaks.append(f"file {needles.mask(path.relative_to(root).as_posix())}")
    return leaks


def issued_tokens(store: Store) -> set[str]:
    return {row["value"] for row in store.all(
        "SELECT value FROM tokens UNION SELECT value FROM deploy_tokens")}


def stored_leaks(store: Store, needles: Needles) -> list[str]:
    """Where a sandbox stored a token, as `table.column` or `file <name>`."""
    leaks = []
    tables = [r["name"] for r in store.all("SELECT name FROM sqlite_master WHERE type='table'")]
    for table in tables:
        if table in _SKIP_TABLES:
            continue
        columns = [c["name"] for c in store.all(f"PRAGMA table_info({table})")
                   if c["type"].upper() == "TEXT"]
        for column in columns:
            rows = store.all(f"SELECT {column} AS v FROM {table} WHERE {column} IS NOT NULL")
            if needles.found_in("\n".join(row["v"] for row in rows)):
                leaks.append(f"{table}.{column}")
    for row in store.all("SELECT file_name, blob, size FROM package_files"):
        if row["size"] > MAX_FILE_BYTES:
            continue
        path = store.blob_path(row["blob"])
        if path.exists() and needles.found_in(path.read_bytes()):
            leaks.append(f"file {needles.mask(row['file_name'])}")
    return sorted(set(leaks))


def token_values(sandbox: Sandbox) -> set[str]:
    return (issued_tokens(sandbox.app.store) | set(sandbox.tokens.values())
            | {sandbox.admin_token})


def find_leaks(sandbox: Sandbox) -> list[str]:
    """Where a running sandbox stored one of its own (or any known) token values."""
    remember(token_values(sandbox))
    return stored_leaks(sandbox.app.store, _known_needles)


def scan(root: Path, printed: Sequence[tuple[str, str]]) -> list[str]:
    """Everything one test left: recorded output, files under `root` (its tmp_path) and the
    stores of the sandboxes that ran there. Their tokens join the known ones first."""
    from mlflow_gitlab.sandbox.backend.store import Store

    stores = [(d, Store(d)) for d in sandbox_dirs(root)]
    try:
        for _, store in stores:
            remember(issued_tokens(store))
        needles = _known_needles
        leaks = leaks_in_output(printed, needles)
        for data_dir, store in stores:
            where = data_dir.relative_to(root).as_posix()
            leaks += [f"sandbox {where}: {leak}" for leak in stored_leaks(store, needles)]
        return leaks + leaks_in_files(root, needles)
    finally:
        for _, store in stores:
            store.close()
