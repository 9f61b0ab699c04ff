"""The relay: a local MLflow tracking endpoint between a child process and the real server.

The child gets the relay's loopback URI as `MLFLOW_TRACKING_URI` and no token; the relay
adds the token to what it forwards, batches metric points (from requests, and from the
child's metric journal when it has one, `relay.journal`) into `log-batch` requests, and
on GitLab serves what MLflow 3 clients need and GitLab lacks (logged models, run inputs,
artifact uploads to any run). It serves only MLflow routes (`relay.routes`): any other
path is answered 404 here and never reaches the server with the token.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from mlflow_gitlab.errors import GitLabAPIError
from mlflow_gitlab.relay.artifact_routes import ArtifactRoutes
from mlflow_gitlab.relay.config import RelayConfig, relay_config
from mlflow_gitlab.relay.forward import forward, reply_from, unavailable
from mlflow_gitlab.relay.http import (
    Handler,
    RelayHTTPServer,
    Reply,
    Request,
    json_reply,
    mlflow_error,
)
from mlflow_gitlab.relay.inputs import input_tags, output_tags
from mlflow_gitlab.relay.journal_intake import JournalIntake
from mlflow_gitlab.relay.model_routes import ModelRoutes
from mlflow_gitlab.relay.queue import MetricQueue
from mlflow_gitlab.relay.registry_routes import RegistryRoutes
from mlflow_gitlab.relay.routes import (
    ARTIFACTS,
    GITLAB_ENDPOINTS,
    LOGGED_MODELS,
    MLFLOW,
    canonical_query,
    is_served,
    normalised,
)
from mlflow_gitlab.relay.runs import RunDirectory
from mlflow_gitlab.relay.sender import BatchSender
from mlflow_gitlab.relay.spool import Spool
from mlflow_gitlab.relay.tracking_routes import TrackingRoutes
from mlflow_gitlab.relay.upstream import Upstream
from mlflow_gitlab.settings import TrackingSettings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RelaySummary:
    """What the relay did with the metric points it acknowledged."""

    points: int
    sent: int
    requests: int
    retries: int
    checks: int
    rejected: int
    unconfirmed: int
    unsent: int
    spool: Path | None

    def line(self) -> str:
        text = (f"relay: {self.sent} of {self.points} metric point(s) sent in "
                f"{self.requests} request(s), {self.retries} failed attempt(s) retried")
        if self.checks:
            text += f", {self.checks} lost answer(s) checked"
        for count, what in ((self.rejected, "refused by the server"),
                            (self.unconfirmed, "unconfirmed (answer lost, not re-sent)"),
                            (self.unsent, f"kept in {self.spool} for `mlflow-gitlab sync`")):
            if count:
                text += f"; {count} {what}"
        return text


class Relay:
    """Serve on loopback in threads; `close()` flushes and stops.

    Args:
        settings: the real tracking server and its token.
        config: knobs (default: `relay_config()` from the environment).
        default_run_id: the run a logged model goes to when the child names none (the run
            `mlflow-gitlab run` made).
        journal: keep a metric journal for the child (`journal.directory`, in the spool
            folder), read until `close()` and deleted by `discard_journal()`.
    """

    def __init__(self, settings: TrackingSettings, config: RelayConfig | None = None, *,
                 default_run_id: str | None = None, journal: bool = False) -> None:
        self.config = config or relay_config()
        self.default_run_id = default_run_id
        self.upstream = Upstream(settings, self.config)
        self.queue = MetricQueue(self.config.queue_limit, self.config.linger)
        self.journal = (JournalIntake(self.queue, self.config.spool, default_run_id)
                        if journal else None)
        self.sender = BatchSender(self.upstream, self.config.verify_delay)
        self.spool = Spool(self.config.spool)
        self.runs = RunDirectory(self.upstream)
        self.artifacts = ArtifactRoutes(self.upstream, self.runs)
        self.models = ModelRoutes(self.upstream, self.runs, self.artifacts, default_run_id)
        self._table: dict[str, Handler] = TrackingRoutes(
            self.upstream, self.runs, self.queue, self.config, self.journal, self.flush).table()
        if self.upstream.gitlab:
            self._table = {k: v for k, v in self._table.items() if k in GITLAB_ENDPOINTS}
            self._table["runs/log-inputs"] = self._log_inputs
            self._table["runs/outputs"] = self._log_outputs
            self._table["registered-models/get-latest-versions"] = \
                RegistryRoutes(self.upstream).latest_versions
        self._server = RelayHTTPServer((self.config.host, self.config.port), self.dispatch)
        self._threads: list[threading.Thread] = []
        self._spooled: Path | None = None
        self._lost = False  # points could be neither sent nor spooled

    @property
    def uri(self) -> str:
        """The tracking URI to give the child (`http://127.0.0.1:<port>`)."""
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> Relay:
        for target, name in ((self._serve, "server"), (self._flush_loop, "flusher")):
            thread = threading.Thread(target=target, name=f"mlflow-gitlab-relay-{name}",
                                      daemon=True)
            thread.start()
            self._threads.append(thread)
        if self.journal is not None:
            self.journal.start()
        return self

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every point acknowledged or journaled so far is sent or given up on."""
        if self.journal is not None:
            self.journal.read()
        return self.queue.flush(timeout)

    def close(self) -> RelaySummary:
        """Read the journal to its end, send what is queued (under the retry policy), then
        stop serving."""
        if self.journal is not None:
            self.journal.close()
        self.queue.close()
        for thread in self._threads:
            if thread.name.endswith("flusher"):
                thread.join()
        self._server.shutdown()
        self._server.server_close()
        self.upstream.close()
        return self.summary()

    def discard_journal(self) -> None:
        """Delete the metric journal once the run has ended; it stays for `mlflow-gitlab
        sync` when some of its points could be neither sent nor spooled."""
        if self.journal is not None and not self._lost:
            self.journal.discard()

    def summary(self) -> RelaySummary:
        counts, stats = self.queue.snapshot(), self.sender.stats
        return RelaySummary(counts.queued, counts.sent, stats.requests, stats.retries,
                            stats.checks, stats.rejected, stats.unconfirmed, stats.unsent,
                            self._spooled)

    def __enter__(self) -> Relay:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def dispatch(self, request: Request) -> Reply:
        """Route one request of the child; 404 for anything but a served MLflow route."""
        path = normalised(request.path)
        gitlab = self.upstream.gitlab
        if path is None or not is_served(path, gitlab=gitlab):
            log.debug("relay: %s %.200r is not an MLflow route it serves: 404", request.method,
                      request.path)
            return mlflow_error(404, "ENDPOINT_NOT_FOUND", f"mlflow-gitlab relay: "
                                f"{request.method} {request.path[:200]!r} is not an MLflow "
                                "route it serves")
        request.path, request.query = path, canonical_query(request.query)
        if path.startswith(MLFLOW):
            endpoint = path[len(MLFLOW):]
            handler = self._table.get(endpoint)
            if handler is not None:
                return handler(request)
            if gitlab and endpoint.split("/")[0] == LOGGED_MODELS:
                return self.models.handle(request, endpoint)
        elif gitlab and path.startswith(ARTIFACTS):
            return self.artifacts.handle(request)
        return forward(self.upstream, request, stream=True)

    def _log_inputs(self, request: Request) -> Reply:
        return self._tag_run(request, input_tags)

    def _log_outputs(self, request: Request) -> Reply:
        return self._tag_run(request, output_tags)

    def _tag_run(self, request: Request,
                 to_tags: Callable[[Mapping[str, Any]], dict[str, str]]) -> Reply:
        body = request.json()
        run_id = body.get("run_id") or body.get("run_uuid")
        try:
            tags = to_tags(body)
        except ValueError as exc:
            return mlflow_error(400, "INVALID_PARAMETER_VALUE", str(exc))
        if not run_id:
            return mlflow_error(400, "INVALID_PARAMETER_VALUE",
                                "Missing value for required parameter 'run_id'")
        try:
            failed = self.upstream.log_tags(run_id, tags)
        except (GitLabAPIError, requests.RequestException) as exc:
            return unavailable(exc)
        return json_reply({}) if failed is None else reply_from(failed)

    def _serve(self) -> None:
        self._server.serve_forever(poll_interval=0.1)

    def _flush_loop(self) -> None:
        while (batch := self.queue.take()) is not None:
            sent, unsent = 0, list(batch.points)
            try:
                sent, unsent = self.sender.send(batch.run_id, list(batch.points))
            except Exception:  # a relay bug must not stop the flusher: keep the points
                log.exception("relay: sending %d point(s) of run %s failed", len(unsent),
                              batch.run_id)
                self.sender.stats.unsent += len(unsent)
            if unsent:
                try:
                    self._spooled = self.spool.add(batch.run_id, unsent).parent
                except OSError as exc:
                    self._lost = True
                    log.error("relay: %d point(s) of run %s cannot be kept: cannot write the "
                              "spool (%s)", len(unsent), batch.run_id, exc)
            self.queue.settle(batch, sent)
