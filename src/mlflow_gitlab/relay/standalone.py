"""`mlflow-gitlab relay`: the relay on its own, for notebooks and scripts outside CI."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable, Mapping

from mlflow_gitlab.relay.config import relay_config
from mlflow_gitlab.relay.relay import Relay, RelaySummary
from mlflow_gitlab.settings import tracking_settings

log = logging.getLogger(__name__)


def serve_relay(on_ready: Callable[[str], None], *, tracking_uri: str | None = None,
                host: str = "127.0.0.1", port: int = 0,
                env: Mapping[str, str] | None = None,
                stop: threading.Event | None = None) -> RelaySummary:
    """Relay to the tracking server until SIGINT/SIGTERM (or `stop`), then flush.

    Args:
        on_ready: called with the relay's URI once it accepts requests.
        tracking_uri: the real server (default: MLFLOW_TRACKING_URI, else the project's
            GitLab endpoint in a CI job); its token comes from MLFLOW_TRACKING_TOKEN.
        host, port: where to listen (port 0 picks a free one).
        env: the environment to read settings from (default: this process's).
        stop: set it to stop the relay (tests); signals set it too.

    Returns:
        What the relay did with the metric points it took.

    Raises:
        ConfigError: the tracking server or the token is not configured.
    """
    settings = tracking_settings(env, tracking_uri)
    stop = stop or threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set())
                for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        with Relay(settings, relay_config(env, host=host, port=port)) as relay:
            log.info("relaying %s to %s", relay.uri, settings.tracking_uri)
            on_ready(relay.uri)
            stop.wait()
            log.info("stopping: sending what is queued")
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return relay.summary()
