"""A local MLflow tracking relay: batches metrics, holds the token, bridges MLflow 3 to GitLab."""

from __future__ import annotations

from mlflow_gitlab.relay.config import RelayConfig, relay_config
from mlflow_gitlab.relay.relay import Relay, RelaySummary

__all__ = ["Relay", "RelayConfig", "RelaySummary", "relay_config"]
