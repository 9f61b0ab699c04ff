"""A local MLflow tracking relay: batches metrics, holds the token, bridges MLflow 3 to GitLab.

The names below load on first use: the child's MLflow loads `relay.store_plugin` (and with
it this package) in every process, which must not pay for the relay's server.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlflow_gitlab.relay.config import RelayConfig, relay_config
    from mlflow_gitlab.relay.relay import Relay, RelaySummary

__all__ = ["Relay", "RelayConfig", "RelaySummary", "relay_config"]
_HOMES = {"Relay": "relay", "RelaySummary": "relay", "RelayConfig": "config",
          "relay_config": "config"}


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{_HOMES[name]}"), name)
