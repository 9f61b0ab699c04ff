"""The relay around one child process: started before it, drained and stopped after it."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

from mlflow_gitlab import env as variables
from mlflow_gitlab.relay.config import relay_config
from mlflow_gitlab.relay.relay import Relay, RelaySummary
from mlflow_gitlab.relay.store_plugin import JOURNAL_VARIABLE, RELAY_VARIABLE
from mlflow_gitlab.run.command_env import without_tokens
from mlflow_gitlab.settings import TrackingSettings

log = logging.getLogger(__name__)
ASYNC_LOGGING = "MLFLOW_ENABLE_ASYNC_LOGGING"  # off unless the user turns it on (docs/relay.md)
# MLflow merges what its async queue holds into `log-batch` requests only when this is set;
# otherwise it sends one request per call, at the per-call rate.
ASYNC_BUFFERING = "MLFLOW_ASYNC_LOGGING_BUFFERING_SECONDS"
LOOPBACK = "127.0.0.1"


def start_for_child(settings: TrackingSettings, run_id: str, env: Mapping[str, str],
                    child_env: Mapping[str, str], *, journal: bool = True,
                    keep: tuple[str, ...] = ()) -> tuple[Relay, dict[str, str]]:
    """Start a relay for run `run_id`, with a metric journal unless `journal` is False;
    return it and the child's environment pointed at it (`child_environment`, keeping the
    token variables in `keep`).

    Raises:
        ConfigError: a relay setting in `env` is malformed.
        OSError: no loopback port to listen on, or no folder for the journal.
    """
    relay = Relay(settings, relay_config(env), default_run_id=run_id, journal=journal).start()
    pointed = child_environment(child_env, relay.uri, settings.tracking_uri,
                                relay.journal.directory if relay.journal else None,
                                keep=keep)
    log.debug("the command tracks through the relay at %s", relay.uri)
    if _enabled(pointed.get(ASYNC_LOGGING, "")):
        log.info("%s: the command's MLflow sends its calls in batches every %s s; end its "
                 "runs (`with mlflow.start_run():`), as MLflow drops what it still holds "
                 "when the interpreter exits", ASYNC_LOGGING, pointed.get(ASYNC_BUFFERING))
    return relay, pointed


def child_environment(child_env: Mapping[str, str], relay_uri: str, tracking_uri: str,
                      journal: Path | None = None, *,
                      keep: tuple[str, ...] = ()) -> dict[str, str]:
    """The child's environment for a relay at `relay_uri` relaying to `tracking_uri`.

    - MLFLOW_TRACKING_URI is the relay, and so is MLFLOW_REGISTRY_URI unless it names
      another server (where MLflow's default would resolve it anyway, but without a Spark
      lookup on every call).
    - No API token (`command_env.without_tokens`), except the variables in `keep`.
    - With a `journal` folder, MLFLOW_GITLAB_JOURNAL_DIR names it and
      MLFLOW_GITLAB_JOURNAL_RELAY the relay, for the store plugin (`relay.store_plugin`);
      without one, neither is passed on (a parent `run`'s journal is not this relay's).
    - `127.0.0.1` is added to NO_PROXY/no_proxy, so a job's HTTP proxy is not asked to
      reach the relay on the job's own loopback.
    - When the user turned MLflow's async logging on (MLFLOW_ENABLE_ASYNC_LOGGING), its
      queue merges calls into batches every second unless
      MLFLOW_ASYNC_LOGGING_BUFFERING_SECONDS says otherwise (without it MLflow sends one
      request per call, at the per-call rate).
    Empty MLflow async variables are dropped: MLflow fails on them.
    """
    env = {k: v for k, v in without_tokens(child_env, keep=keep).items()
           if k not in (JOURNAL_VARIABLE, RELAY_VARIABLE)
           and not (k in (ASYNC_LOGGING, ASYNC_BUFFERING) and not v)}
    env[variables.TRACKING_URI.name] = relay_uri
    if journal is not None:
        env[JOURNAL_VARIABLE], env[RELAY_VARIABLE] = str(journal), relay_uri
    registry = variables.REGISTRY_URI.read(env) or tracking_uri
    if registry.rstrip("/") == tracking_uri.rstrip("/"):
        env[variables.REGISTRY_URI.name] = relay_uri
    if _enabled(env.get(ASYNC_LOGGING, "")):
        env.setdefault(ASYNC_BUFFERING, "1")
    _bypass_proxy(env, LOOPBACK)
    return env


def _enabled(value: str) -> bool:
    """MLflow's reading of a boolean variable."""
    return value.strip().lower() in ("true", "1")


def _bypass_proxy(env: dict[str, str], host: str) -> None:
    """Add `host` to each no-proxy variable set, or set both when neither is (a lowercase
    one set alone would hide an uppercase one for tools that read lowercase first)."""
    present = [name for name in ("no_proxy", "NO_PROXY") if env.get(name)]
    for name in present or ("no_proxy", "NO_PROXY"):
        hosts = [h.strip() for h in env.get(name, "").split(",") if h.strip()]
        if host not in hosts and "*" not in hosts:
            env[name] = ",".join([*hosts, host])


def stop_after_child(relay: Relay) -> RelaySummary:
    """Send every point the child logged (under the retry policy), then stop the relay."""
    summary = relay.close()
    log.info("%s", summary.line())
    if summary.unsent:
        log.error("%d metric point(s) could not be sent and are kept in %s", summary.unsent,
                  summary.spool)
        log.error("send them later with: mlflow-gitlab sync --spool %s", summary.spool)
    return summary
