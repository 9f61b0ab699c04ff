"""MLflow's REST API on the tracking server, as the helper's own calls use it.

Every call goes through the relay's `Upstream` session, under the helper's retry policy
(`MLFLOW_GITLAB_RETRY_ATTEMPTS`, `MLFLOW_GITLAB_RETRY_SECONDS`): reads and writes that may
be repeated are retried on 429, 5xx and dropped connections; creates go through
`create_once`. Every answer is checked: one that is not a JSON object, or lacks what the
caller needs, is an error naming the server, the call and what came back.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, TypeVar

import requests

from mlflow_gitlab import redaction
from mlflow_gitlab.errors import (
    ConfigError,
    GitLabAPIError,
    TrackingError,
    TrackingRefused,
    UnexpectedAnswer,
    WriteRefused,
)
from mlflow_gitlab.http import json_or_none, read_json, server_of
from mlflow_gitlab.http.failures import raise_if_transient
from mlflow_gitlab.http.retry import Retrier, RetryPolicy, TransientError
from mlflow_gitlab.redaction import strip_url_credentials
from mlflow_gitlab.relay.config import RelayConfig
from mlflow_gitlab.relay.upstream import Upstream
from mlflow_gitlab.settings import TrackingSettings
from mlflow_gitlab.tracking.create_once import create_once

T = TypeVar("T")
JSON = dict[str, Any]
_SHOWN = 120  # characters of an unexpected answer quoted in an error


class MlflowAPI:
    """The helper's client for one tracking server's MLflow REST API."""

    def __init__(self, settings: TrackingSettings, retrier: Retrier | None = None) -> None:
        self.settings = settings
        self.where = strip_url_credentials(settings.tracking_uri)
        self.retrier = retrier or Retrier(RetryPolicy(settings.retry_attempts,
                                                      settings.retry_seconds))
        self.upstream = Upstream(settings, RelayConfig(), retrier=self.retrier)

    def get(self, endpoint: str, params: Mapping[str, Any]) -> JSON:
        """`GET` an endpoint (`runs/get`); retried on every transient failure."""
        return self._answer(self._call("GET", endpoint, params=params), "GET", endpoint)

    def find(self, endpoint: str, params: Mapping[str, Any]) -> JSON | None:
        """`get`, or None when the server answers that there is no such resource."""
        try:
            return self.get(endpoint, params)
        except TrackingRefused as exc:
            if exc.error_code == "RESOURCE_DOES_NOT_EXIST":
                return None
            raise

    def send(self, method: str, endpoint: str, body: Mapping[str, Any]) -> JSON:
        """A write that may be repeated (`runs/update`, `runs/log-batch`, a search);
        retried on every transient failure."""
        response = self._call(method, endpoint, json=body)
        return self._answer(response, method, endpoint)

    def create(self, endpoint: str, body: Mapping[str, Any], find: Callable[[], T | None],
               made: Callable[[JSON], T]) -> T:
        """`POST` a create; after an attempt that may have worked, `find` looks for what it
        made before it is sent again. `made` turns the answer into the result."""
        url = self.upstream.mlflow_url(endpoint)

        def send() -> T:
            response = raise_if_transient(self.upstream.once("POST", url, json=body))
            return made(self._answer(response, "POST", endpoint))

        with self._unavailable():
            return create_once(self.retrier, f"POST {endpoint}", send, find)

    def field(self, answer: JSON, call: str, *path: str) -> Any:
        """`answer[path[0]][path[1]]...`, present and not empty, else an UnexpectedAnswer."""
        value: Any = answer
        for key in path:
            value = value.get(key) if isinstance(value, dict) else None
        if value in (None, "", [], {}):
            raise self.odd(answer, call, f"an object without '{'.'.join(path)}'")
        return value

    def odd(self, answer: JSON, call: str, problem: str) -> UnexpectedAnswer:
        """The one-line error for a JSON answer no MLflow server would send."""
        return UnexpectedAnswer(
            f"unexpected answer from {server_of(self.settings.tracking_uri)} to {call}: "
            f"{problem} starting {_quote(answer)}",
            hint="check that MLFLOW_TRACKING_URI names an MLflow tracking server "
                 "(GitLab: .../ml/mlflow)")

    def close(self) -> None:
        self.upstream.close()

    # --- one call ----------------------------------------------------------------------

    def _call(self, method: str, endpoint: str, **kwargs: Any) -> requests.Response:
        with self._unavailable():
            return self.upstream.call(method, self.upstream.mlflow_url(endpoint),
                                      idempotent=True, **kwargs)

    @contextmanager
    def _unavailable(self) -> Iterator[None]:
        """Name the server in the error of a call that kept failing."""
        try:
            yield
        except UnexpectedAnswer:
            raise
        except GitLabAPIError as exc:
            failure = exc.__cause__
            if isinstance(failure, TransientError) and failure.status is None:
                raise TrackingError(f"cannot reach the tracking server at {self.where}: {exc}",
                                    hint="check MLFLOW_TRACKING_URI and the network") from exc
            raise TrackingError(f"the tracking server at {self.where} kept failing: {exc}",
                                hint=exc.hint) from exc

    def _answer(self, response: requests.Response, method: str, endpoint: str) -> JSON:
        """The JSON object of a successful answer; any other answer raises its error."""
        if response.ok:
            return read_json(response, dict)
        body = json_or_none(response)
        raise self._refusal(response, body if isinstance(body, dict) else {},
                            f"{method} {endpoint}")

    def _refusal(self, response: requests.Response, body: JSON, call: str) -> Exception:
        """A clear error for a refused call; never includes the token."""
        status = response.status_code
        code = str(body.get("error_code") or "")
        message = str(body.get("message") or body.get("error") or "").strip()
        if status == 401:
            return ConfigError(
                f"the tracking server at {self.where} rejected MLFLOW_TRACKING_TOKEN (401)",
                hint="use an access token with the `api` scope and the Developer role or "
                     "higher")
        if status == 403:
            return WriteRefused(
                f"MLFLOW_TRACKING_TOKEN may not write to {self.where} (403: read-only token?)",
                hint="use an access token with the `api` scope, not `read_api`")
        if status == 404 and not code and "project" in message.lower():
            return ConfigError(
                f"{self.where} was not found: the project does not exist or the token cannot "
                "see it", hint="check CI_PROJECT_ID / MLFLOW_TRACKING_URI and the token's "
                               "project membership")
        shown = message.splitlines()[0][:300] if message else _quote(response.text)
        return TrackingRefused(f"{call} on {self.where} failed ({status}"
                               f"{' ' + code if code else ''}): {shown}",
                               status=status, error_code=code)


def _quote(value: Any) -> str:
    """The start of an unexpected answer, on one line, redacted."""
    text = " ".join(json.dumps(value, ensure_ascii=False).split())
    return json.dumps(redaction.redact(text[:_SHOWN]) + ("…" if len(text) > _SHOWN else ""),
                      ensure_ascii=False)
