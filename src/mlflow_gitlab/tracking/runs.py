"""Experiments and runs on the tracking server, as `mlflow-gitlab run` creates and ends them.

Runs of one pipeline are grouped under a parent run (tag `mlflow-gitlab.role=pipeline`),
which the job runs point to with `mlflow.parentRunId`. GitLab's run search ignores filters
and orders newest first, so the parent is found by scanning recent runs client-side.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass

from mlflow_gitlab import tags as t
from mlflow_gitlab.errors import TrackingError, TrackingRefused
from mlflow_gitlab.settings import TrackingSettings
from mlflow_gitlab.tracking.client import MlflowAPI
from mlflow_gitlab.tracking.run_create import create_run, discard_run, recent_runs, run_tags

_BATCH = 100  # params or tags per log-batch, MLflow's own client limit
# How far back past the pipeline's start the parent-run scan looks (runner clock skew).
_SCAN_MARGIN_MS = 10 * 60 * 1000


@dataclass(frozen=True)
class RunRef:
    """A run the helper created: what a child process needs to log to it."""

    run_id: str
    experiment_id: str
    run_name: str | None
    parent_run_id: str | None
    artifact_uri: str = ""  # on GitLab it names the run's candidate iid (its page)


class Tracker:
    """Creates and finishes runs on one tracking server, every call retried (`tracking.client`)."""

    def __init__(self, settings: TrackingSettings) -> None:
        self.settings = settings
        self.api = MlflowAPI(settings)

    def experiment_id(self, name: str) -> str | None:
        """The id of experiment `name`, or None when there is none."""
        answer = self.api.find("experiments/get-by-name", {"experiment_name": name})
        if answer is None:
            return None
        return str(self.api.field(answer, "GET experiments/get-by-name", "experiment",
                                  "experiment_id"))

    def ensure_experiment(self, name: str) -> str:
        """The id of experiment `name`, created when missing (safe against a concurrent job,
        and against a create whose answer was lost: GitLab refuses a second one)."""
        found = self.experiment_id(name)
        if found is not None:
            return found
        try:
            answer = self.api.send("POST", "experiments/create", {"name": name})
            return str(self.api.field(answer, "POST experiments/create", "experiment_id"))
        except TrackingRefused as exc:
            if exc.error_code != "RESOURCE_ALREADY_EXISTS":
                raise
        found = self.experiment_id(name)
        if found is None:  # pragma: no cover - deleted between the two calls
            raise TrackingError(f"experiment {name!r} vanished while being created")
        return found

    def start_run(self, experiment_id: str, run_name: str | None, run_tags: Mapping[str, str],
                  params: Mapping[str, str], parent_run_id: str | None) -> RunRef:
        """Create a RUNNING run with all tags and params set at once."""
        tags = dict(run_tags)
        tags[t.RUN_ROLE] = "job"
        if parent_run_id:
            tags[t.PARENT_RUN_ID] = parent_run_id
        if run_name:
            tags[t.RUN_NAME] = run_name
        info = create_run(self.api, experiment_id, run_name, tags, now_ms())["info"]
        run_id = str(info["run_id"])
        self._log_batch(run_id, "params", {
            k: t.fit_value(v, t.MAX_PARAM_VALUE_LENGTH) for k, v in params.items()})
        return RunRef(run_id, experiment_id, info.get("run_name") or run_name, parent_run_id,
                      info.get("artifact_uri") or "")

    def finish_run(self, run: RunRef, status: str) -> None:
        """Mark the run (and its pipeline parent) ended with `status`."""
        self._terminate(run.run_id, status)
        if run.parent_run_id:
            # The parent ends when its last job does: each job moves its end time on.
            self._terminate(run.parent_run_id, "FINISHED")

    def run_tags(self, run_id: str) -> tuple[str, dict[str, str]]:
        """The experiment id and the tags of run `run_id`.

        Raises:
            TrackingError: there is no such run.
        """
        try:
            answer = self.api.get("runs/get", {"run_id": run_id})
        except TrackingRefused as exc:
            if exc.error_code != "RESOURCE_DOES_NOT_EXIST":
                raise
            raise TrackingError(f"run {run_id} was not found on {self.api.where}") from exc
        experiment_id = self.api.field(answer, "GET runs/get", "run", "info", "experiment_id")
        return str(experiment_id), run_tags(answer["run"])

    def tag_once(self, run_id: str, tags: Mapping[str, str]) -> list[str]:
        """Set the tags run `run_id` does not have yet; return the keys it has with another
        value (left alone: GitLab refuses to set a tag twice)."""
        _, current = self.run_tags(run_id)
        self._log_batch(run_id, "tags", {k: v for k, v in tags.items() if k not in current})
        return [k for k, v in tags.items() if k in current and current[k] != v]

    def pipeline_run(self, experiment_id: str, pipeline_tags: Mapping[str, str],
                     pipeline_id: int, name: str, since_ms: int | None) -> str:
        """The parent run of pipeline `pipeline_id`, created by the first job to ask.

        Concurrent jobs may each create one; all of them then pick the earliest created
        (the last in GitLab's newest-first order), and the others delete their own.
        """
        found = self._pipeline_runs(experiment_id, pipeline_id, since_ms)
        if found:
            return found[-1]
        tags = {**pipeline_tags, t.RUN_ROLE: "pipeline", t.RUN_NAME: name}
        mine = str(create_run(self.api, experiment_id, name, tags, now_ms())["info"]["run_id"])
        winner = (self._pipeline_runs(experiment_id, pipeline_id, since_ms) or [mine])[-1]
        if winner != mine:
            discard_run(self.api, mine)
        return winner

    def _pipeline_runs(self, experiment_id: str, pipeline_id: int, since_ms: int | None
                       ) -> list[str]:
        """Ids of this pipeline's parent runs, newest first."""
        wanted = str(pipeline_id)
        found = []
        for run in recent_runs(self.api, experiment_id, since_ms):
            tags = run_tags(run)
            if tags.get(t.RUN_ROLE) == "pipeline" and tags.get(t.PIPELINE_ID) == wanted:
                found.append(str(run["info"]["run_id"]))
        return found

    def _log_batch(self, run_id: str, kind: str, values: Mapping[str, str]) -> None:
        """Params or tags with `log-batch`, which GitLab stores once per key (a key it has
        is dropped silently), so a batch whose answer was lost may be sent again."""
        items = [{"key": k, "value": v} for k, v in values.items()]
        for i in range(0, len(items), _BATCH):
            self.api.send("POST", "runs/log-batch", {"run_id": run_id,
                                                     kind: items[i:i + _BATCH]})

    def _terminate(self, run_id: str, status: str) -> None:
        self.api.send("POST", "runs/update",
                      {"run_id": run_id, "status": status, "end_time": now_ms()})


def scan_start_ms(pipeline_created_at: str | None) -> int | None:
    """The start_time below which no run of this pipeline can be (ISO 8601 -> ms)."""
    if not pipeline_created_at:
        return None
    from datetime import datetime

    try:
        created = datetime.fromisoformat(pipeline_created_at.replace("Z", "+00:00"))
    except ValueError:
        return None
    return int(created.timestamp() * 1000) - _SCAN_MARGIN_MS


def now_ms() -> int:
    return int(time.time() * 1000)
