"""Keep secrets out of everything we write: every token the process read, in every form it
can take (as is, percent-encoded, inside base64), credential headers, token-shaped values and
URL credentials."""

from __future__ import annotations

import base64
import binascii
import os
import re
import threading
from collections.abc import Iterable, Mapping
from urllib.parse import urlsplit, urlunsplit

REDACTED = "[MASKED]"

# Token shapes of GitLab and of common clouds; a value containing one is never copied.
_SECRET_VALUE = re.compile(
    r"gl(pat|cbt|ptt|dt|rt|oas|soat|ffct|agent|imt|ft|sa)-[\w-]{8,}"
    r"|\bgh[pousr]_[A-Za-z0-9]{20,}"
    r"|\bAKIA[0-9A-Z]{16}\b"
    r"|-----BEGIN [A-Z ]*PRIVATE KEY-----"
    r"|\bxox[abpr]-[A-Za-z0-9-]{10,}"
)
# Names of variables that hold credentials; their values are masked wherever they appear.
_SECRET_NAME = re.compile(r"TOKEN|PASSWORD|PASSWD|SECRET|PRIVATE_KEY|API_KEY|ACCESS_KEY|"
                          r"CREDENTIAL|AUTH", re.IGNORECASE)
# A credential header or query parameter, as a server's error page may echo the request:
# the name and separator stay, the value goes, known token or not.
_CREDENTIAL_FIELD = re.compile(
    r"(?i)(\b(?:private|job|deploy)[-_]token|\bx-gitlab-token|\b(?:proxy-)?authorization"
    r"|\baccess_token)([\"']?[ \t]*[:=][ \t]*[\"']?(?:(?:bearer|basic|token)[ \t]+)?)"
    r"[^\s\"',;&)]+")
_SCHEME_CREDENTIALS = re.compile(r"\b(Bearer|Basic)([ \t]+)([A-Za-z0-9._~+/=-]{8,})")
_URL_USERINFO = re.compile(r"(\w+://)[^/\s@]+@")
_BASE64_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/-_")
_MIN_SECRET_LENGTH = 6  # shorter values would mask ordinary words
_MIN_BASE64_NEEDLE = 12  # base64 of shorter secrets would match by chance

_registered: set[str] = set()
_lock = threading.Lock()
_cached: tuple[frozenset[str], Redactor] | None = None


def register(*values: str | None) -> None:
    """Remember secret values this process read (tokens, URL passwords): every later
    redaction masks them, wherever they came from."""
    with _lock:
        _registered.update(v for v in values if v and len(v.strip()) >= _MIN_SECRET_LENGTH)


def registered() -> frozenset[str]:
    """The secret values registered so far."""
    with _lock:
        return frozenset(_registered)


def redact(text: str) -> str:
    """`text` with every secret this process knows masked: the registered ones and the
    values of credential-named environment variables."""
    return current().redact(text)


def current() -> Redactor:
    """A redactor of every secret known now (rebuilt only when that set changes)."""
    global _cached
    secrets = secret_values() | registered()
    cached = _cached
    if cached is None or cached[0] != secrets:
        cached = _cached = (secrets, Redactor(secrets))
    return cached[1]


def strip_url_credentials(url: str) -> str:
    """`https://user:token@host/p.git` -> `https://host/p.git`; other strings unchanged."""
    parts = urlsplit(url)
    if not parts.netloc or "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


def url_password(url: str) -> str | None:
    """The password (or lone user name) of a URL's userinfo, as written (percent-encoded)."""
    netloc = urlsplit(url).netloc if "://" in url else ""
    userinfo, at, _ = netloc.rpartition("@")
    if not at:
        return None
    user, _, password = userinfo.partition(":")
    return password or user or None


def is_secret_name(name: str) -> bool:
    """True for variable names such as `CI_JOB_TOKEN`, `AWS_SECRET_ACCESS_KEY`."""
    return bool(_SECRET_NAME.search(name))


def secret_values(env: Mapping[str, str] | None = None) -> frozenset[str]:
    """Values of credential-named variables in `env` (default: this process's environment)."""
    env = os.environ if env is None else env
    return frozenset(v for k, v in env.items()
                     if is_secret_name(k) and len(v.strip()) >= _MIN_SECRET_LENGTH)


class Redactor:
    """Masks known secret values (in every form) and token-shaped strings in text."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        plain = {s.strip() for s in secrets if len(s.strip()) >= _MIN_SECRET_LENGTH}
        # Longest first, so a secret containing another is masked whole.
        ordered = sorted(plain, key=len, reverse=True)
        self._known = re.compile("|".join(map(_percent_tolerant, ordered))) if ordered else None
        needles = sorted({n for s in ordered for n in _base64_needles(s)}, key=len, reverse=True)
        self._base64 = re.compile("|".join(map(re.escape, needles))) if needles else None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Redactor:
        """The secrets of `env`'s credential-named variables, and the registered ones."""
        return cls(secret_values(env) | registered())

    def redact(self, text: str) -> str:
        if self._known is not None:
            text = self._known.sub(REDACTED, text)
        if self._base64 is not None:
            text = _mask_base64_words(self._base64, text)
        text = _CREDENTIAL_FIELD.sub(lambda m: m[1] + m[2] + REDACTED, text)
        text = _SCHEME_CREDENTIALS.sub(_mask_scheme_value, text)
        text = _SECRET_VALUE.sub(REDACTED, text)
        if "://" in text and "@" in text:
            text = _URL_USERINFO.sub(r"\1", text)
        return text


def _percent_tolerant(secret: str) -> str:
    """A pattern for `secret` with any of its characters percent-encoded (either case)."""
    parts = []
    for char in secret:
        encoded = "".join(f"%{byte:02X}" for byte in char.encode())
        hex_pattern = re.sub(r"[A-F]", lambda m: f"[{m[0]}{m[0].lower()}]", encoded)
        parts.append(f"(?:{re.escape(char)}|{hex_pattern})")
    return "".join(parts)


def _base64_needles(secret: str) -> set[str]:
    """The base64 characters that `secret` yields at each of the 3 alignments it can have in
    encoded data (`Basic base64(user:token)` for any user, the token alone, ...), in the
    standard and URL-safe alphabets: only whole groups made of the secret's own bytes."""
    raw, needles = secret.encode(), set()
    for offset in range(3):
        data = b"\0" * offset + raw
        end = len(data) // 3 * 4
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            needle = encode(data).decode()[4 if offset else 0:end]
            if len(needle) >= _MIN_BASE64_NEEDLE:
                needles.add(needle)
    return needles


def _mask_base64_words(needles: re.Pattern[str], text: str) -> str:
    """Mask each whole base64 word (with its padding) holding one of `needles`."""
    spans: list[tuple[int, int]] = []
    for match in needles.finditer(text):
        start, end = match.start(), match.end()
        if spans and start < spans[-1][1]:
            continue
        while start and text[start - 1] in _BASE64_CHARS:
            start -= 1
        while end < len(text) and (text[end] in _BASE64_CHARS or text[end] == "="):
            end += 1
        spans.append((start, end))
    for start, end in reversed(spans):
        text = text[:start] + REDACTED + text[end:]
    return text


def _mask_scheme_value(match: re.Match[str]) -> str:
    """`Bearer <token>` / `Basic <credentials>`: mask values that are credentials, not words."""
    scheme, space, value = match[1], match[2], match[3]
    if scheme == "Basic":
        try:
            credential = b":" in base64.b64decode(value + "=" * (-len(value) % 4))
        except (binascii.Error, ValueError):
            credential = False
    else:
        credential = any(c.isdigit() or c in "-_.~+/=" for c in value)
    return f"{scheme}{space}{REDACTED}" if credential else match[0]
