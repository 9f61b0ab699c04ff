"""How the relay behaves: batching, timeouts, retries and where undeliverable points go."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from mlflow_gitlab import env as variables
from mlflow_gitlab.http.retry import RetryPolicy

SPOOL_DEFAULT = Path(str(variables.SPOOL.default))
REQUEST_SECONDS: int = variables.REQUEST_SECONDS.default  # type: ignore[assignment]
# Sends in the background are bounded by time more than by attempts: under a rate limit
# every attempt may get a 429 until the window resets, and nobody waits on the answer.
RELAY_ATTEMPTS = 30


@dataclass(frozen=True)
class RelayConfig:
    """The relay's knobs; the defaults suit GitLab.com.

    Attributes:
        host, port: where to listen (loopback; port 0 picks a free one).
        linger: seconds a small batch waits for more points before it is sent.
        queue_limit: points held at most before the child is slowed down.
        queue_wait: seconds a request waits for room in a full queue before it is answered
            503 with nothing queued, so the client's retry cannot store its points twice.
            Kept under the client's own request timeout (half MLFLOW_HTTP_REQUEST_TIMEOUT,
            MLflow's default 120 s): a request the client gave up on must not be queued.
        connect_timeout, read_timeout: per request to the tracking server. The read timeout
            exceeds GitLab's own 60 s request timeout, so a request that timed out here was
            aborted there (and not stored).
        request_seconds: the overall deadline of one request to the tracking server, answer
            included (MLFLOW_GITLAB_REQUEST_SECONDS; artifact transfers get 1 s per MiB more).
        verify_delay: seconds to wait before checking whether a batch whose answer was lost
            was stored, so a server still working on it can finish first.
        retry: the retry policy: MLFLOW_GITLAB_RETRY_SECONDS (300) bounds it, and
            MLFLOW_GITLAB_RETRY_ATTEMPTS when set (else `RELAY_ATTEMPTS`).
        spool: folder for points that could not be sent (replayed by `mlflow-gitlab sync`).
    """

    host: str = "127.0.0.1"
    port: int = 0
    linger: float = 0.5
    queue_limit: int = 200_000
    queue_wait: float = 30.0
    connect_timeout: float = 15.0
    read_timeout: float = 90.0
    request_seconds: float = float(REQUEST_SECONDS)
    verify_delay: float = 5.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    spool: Path = SPOOL_DEFAULT


def relay_config(env: Mapping[str, str] | None = None, **overrides: object) -> RelayConfig:
    """The config from MLFLOW_GITLAB_RETRY_ATTEMPTS, _RETRY_SECONDS, _REQUEST_SECONDS and
    _SPOOL (and
    MLflow's MLFLOW_HTTP_REQUEST_TIMEOUT), then `overrides` (field names of `RelayConfig`).

    Raises:
        ConfigError: a variable is malformed; the message names it.
    """
    env = os.environ if env is None else env
    policy = RetryPolicy(attempts=variables.RETRY_ATTEMPTS.read(env, RELAY_ATTEMPTS),
                         budget=float(variables.RETRY_SECONDS.read(env)))
    values: dict[str, object] = {
        "retry": policy, "spool": Path(variables.SPOOL.read(env)),
        "request_seconds": float(variables.REQUEST_SECONDS.read(env))}
    client_timeout = env.get(variables.HTTP_REQUEST_TIMEOUT.name) or ""
    if client_timeout.isdigit() and int(client_timeout) > 0:  # MLflow's own, never refused
        values["queue_wait"] = min(RelayConfig.queue_wait, int(client_timeout) / 2)
    values.update({k: v for k, v in overrides.items() if v is not None})
    return RelayConfig(**values)  # type: ignore[arg-type]

