"""MLflow tracking-store plugin for `http` URIs: metrics through the journal inside `run`.

Registered under MLflow's `mlflow.tracking_store` entry point for the `http` scheme. In a
process that `mlflow-gitlab run` started with a relay (it sets the two variables below), the
relay's own URI gets `JournalingRestStore`; any other URI, and every URI elsewhere, gets
MLflow's own REST store, built as MLflow builds it. MLflow loads this module in every
process that tracks, so it imports nothing until a store is asked for.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from mlflow_gitlab.env import JOURNAL_DIR as JOURNAL_VARIABLE
from mlflow_gitlab.env import JOURNAL_RELAY as RELAY_VARIABLE


def tracking_store(store_uri: str, artifact_uri: str | None = None, **kwargs: Any) -> Any:
    """The store MLflow should use for `store_uri` (an `http://` URI)."""
    journal, relay = os.environ.get(JOURNAL_VARIABLE), os.environ.get(RELAY_VARIABLE)
    if journal and relay and store_uri.rstrip("/") == relay.rstrip("/"):
        try:
            from mlflow_gitlab.relay.journal_store import journaling_store

            return journaling_store(store_uri, Path(journal))
        except Exception as exc:  # an MLflow this store does not fit: MLflow's own, over HTTP
            import logging

            logging.getLogger(__name__).warning(
                "mlflow-gitlab: metrics go to the relay over HTTP, not through the journal "
                "(%s: %s)", type(exc).__name__, exc)
    from mlflow.tracking._tracking_service.utils import _get_rest_store

    return _get_rest_store(store_uri, artifact_uri=artifact_uri, **kwargs)
