"""Keep secrets out of everything we write: URL credentials, token-shaped values, known tokens."""

from __future__ import annotations

import os
import re
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
_MIN_SECRET_LENGTH = 6  # shorter values would mask ordinary words


def strip_url_credentials(url: str) -> str:
    """`https://user:token@host/p.git` -> `https://host/p.git`; other strings unchanged."""
    parts = urlsplit(url)
    if not parts.netloc or "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


def is_secret_name(name: str) -> bool:
    """True for variable names such as `CI_JOB_TOKEN`, `AWS_SECRET_ACCESS_KEY`."""
    return bool(_SECRET_NAME.search(name))


def secret_values(env: Mapping[str, str] | None = None) -> frozenset[str]:
    """Values of credential-named variables in `env` (default: this process's environment)."""
    env = os.environ if env is None else env
    return frozenset(v for k, v in env.items()
                     if is_secret_name(k) and len(v) >= _MIN_SECRET_LENGTH)


class Redactor:
    """Masks known secret values and token-shaped strings in text."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        # Longest first, so a secret containing another is masked whole.
        self._secrets = sorted({s for s in secrets if len(s) >= _MIN_SECRET_LENGTH},
                               key=len, reverse=True)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Redactor:
        return cls(secret_values(env))

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        text = _SECRET_VALUE.sub(REDACTED, text)
        if "://" in text and "@" in text:
            text = re.sub(r"(\w+://)[^/\s@]+@", r"\1", text)
        return text
