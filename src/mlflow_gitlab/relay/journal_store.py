"""MLflow's REST store, with plain metric points appended to the relay's journal.

The first point of each run goes to the relay as usual, so a wrong run id or a refused
point fails the call as it would anywhere. Later points of that run are checked here with
the relay's own rules and written to the journal (`relay.journal`); batches with params
or tags, points linked to a model (MLflow 3), NaN and infinities (GitLab refuses them, MLflow
stores them: the relay knows which it talks to) and everything else go over HTTP unchanged.
If the journal cannot be written, the store says so once and uses HTTP from then on.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path

from mlflow.entities import Metric
from mlflow.exceptions import RestException
from mlflow.store.tracking.rest_store import RestStore
from mlflow.tracking._tracking_service.utils import get_default_host_creds

from mlflow_gitlab.relay.journal import JournalWriter, encode
from mlflow_gitlab.relay.points import InvalidPoint, Point, parse_point

log = logging.getLogger(__name__)


def journaling_store(store_uri: str, journal: Path) -> JournalingRestStore:
    """The store for the relay at `store_uri`, writing to the journal folder `journal`."""
    return JournalingRestStore(partial(get_default_host_creds, store_uri),
                               JournalWriter(journal))


class JournalingRestStore(RestStore):
    """`RestStore` whose `log_metric` and metrics-only `log_batch` write to the journal."""

    def __init__(self, get_host_creds: Callable, writer: JournalWriter) -> None:
        super().__init__(get_host_creds)
        self._writer = writer
        self._accepted: set[str] = set()  # runs the relay took a point for
        self._broken = False

    def log_metric(self, run_id: str, metric: Metric) -> None:
        if not self._journal(run_id, [metric]):
            super().log_metric(run_id, metric)
            self._accepted.add(run_id)

    def log_batch(self, run_id: str, metrics: Sequence[Metric], params: Sequence,
                  tags: Sequence) -> None:
        done = 0 if params or tags else self._journal(run_id, metrics)
        if done < len(metrics) or not metrics:
            super().log_batch(run_id, list(metrics)[done:], params, tags)
            if metrics:
                self._accepted.add(run_id)

    def _journal(self, run_id: str, metrics: Sequence[Metric]) -> int:
        """Write `metrics` to the journal; how many were written (the rest must go over
        HTTP): all, none, or, when the disk fills up, the first few.

        Raises:
            RestException: a point the relay would refuse (nothing is written).
        """
        if self._broken or run_id not in self._accepted or not metrics:
            return 0
        if any(getattr(m, "model_id", None) or _non_finite(m.value) for m in metrics):
            return 0  # the relay's own rules: dropping copies, what the server takes
        try:
            lines = [encode(run_id, _point(m)) for m in metrics]
        except InvalidPoint as exc:
            raise RestException({"error_code": "INVALID_PARAMETER_VALUE",
                                 "message": str(exc)}) from None
        try:
            done = self._writer.append(lines)
        except OSError as exc:
            done, reason = 0, str(exc)
        else:
            reason = "the disk is full?"
        if done < len(lines):
            self._broken = True
            log.warning("mlflow-gitlab: cannot write the metric journal (%s); metrics go "
                        "to the relay one request at a time", reason)
        return done


def _non_finite(value: object) -> bool:
    try:
        return not math.isfinite(value)  # type: ignore[arg-type]
    except TypeError:
        return False  # not a number: `_point` says so


def _point(metric: Metric) -> Point:
    return parse_point({"key": metric.key, "value": metric.value,
                        "timestamp": metric.timestamp, "step": metric.step})
