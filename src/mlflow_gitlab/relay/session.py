"""The relay around one child process: started before it, drained and stopped after it."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from mlflow_gitlab.relay.config import relay_config
from mlflow_gitlab.relay.relay import Relay, RelaySummary
from mlflow_gitlab.settings import TrackingSettings

log = logging.getLogger(__name__)
TOKEN_VARIABLES = ("MLFLOW_TRACKING_TOKEN",)


def start_for_child(settings: TrackingSettings, run_id: str, env: Mapping[str, str],
                    child_env: Mapping[str, str]) -> tuple[Relay, dict[str, str]]:
    """Start a relay for run `run_id`; return it and the child's environment pointed at it
    (MLFLOW_TRACKING_URI = the relay, no tracking token).

    Raises:
        ConfigError: a relay setting in `env` is malformed.
        OSError: no loopback port to listen on.
    """
    relay = Relay(settings, relay_config(env), default_run_id=run_id).start()
    pointed = {k: v for k, v in child_env.items() if k not in TOKEN_VARIABLES}
    pointed["MLFLOW_TRACKING_URI"] = relay.uri
    log.debug("the command tracks through the relay at %s", relay.uri)
    return relay, pointed


def stop_after_child(relay: Relay) -> RelaySummary:
    """Send every point the child logged (under the retry policy), then stop the relay."""
    summary = relay.close()
    log.info("%s", summary.line())
    if summary.unsent:
        log.error("%d metric point(s) could not be sent and are kept in %s", summary.unsent,
                  summary.spool)
        log.error("send them later with: mlflow-gitlab sync --spool %s", summary.spool)
    return summary
