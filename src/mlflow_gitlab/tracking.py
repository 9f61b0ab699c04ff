"""Experiments and runs on the tracking server: the one module that imports mlflow.

Runs of one pipeline are grouped under a parent run (tag `mlflow-gitlab.role=pipeline`),
which the job runs point to with `mlflow.parentRunId`. GitLab's run search ignores filters
and orders newest first, so the parent is found by scanning recent runs client-side.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

from mlflow_gitlab import tags as t
from mlflow_gitlab.errors import ConfigError, TrackingError
from mlflow_gitlab.settings import TrackingSettings

# Bounded retries for our own calls (MLflow's default can retry for minutes).
os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "5")
os.environ.setdefault("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "1")
os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "60")
# stdout carries machine output only; MLflow's UI links do not fit GitLab's UI anyway.
os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")

from mlflow.exceptions import MlflowException, RestException
from mlflow.tracking import MlflowClient

_PAGE = 1000
# How far back past the pipeline's start the parent-run scan looks (runner clock skew).
_SCAN_MARGIN_MS = 10 * 60 * 1000


@dataclass(frozen=True)
class RunRef:
    """A run the helper created: what a child process needs to log to it."""

    run_id: str
    experiment_id: str
    run_name: str | None
    parent_run_id: str | None


class Tracker:
    """Creates and finishes runs on one tracking server."""

    def __init__(self, settings: TrackingSettings) -> None:
        self.settings = settings
        if settings.token:
            os.environ["MLFLOW_TRACKING_TOKEN"] = settings.token
        self.client = MlflowClient(tracking_uri=settings.tracking_uri)

    def ensure_experiment(self, name: str) -> str:
        """The id of experiment `name`, created when missing (safe against a concurrent job)."""
        with translate_errors(self.settings):
            experiment = self.client.get_experiment_by_name(name)
            if experiment is not None:
                return experiment.experiment_id
            try:
                return self.client.create_experiment(name)
            except RestException as exc:
                if exc.error_code != "RESOURCE_ALREADY_EXISTS":
                    raise
            experiment = self.client.get_experiment_by_name(name)
            if experiment is None:  # pragma: no cover - deleted between the two calls
                raise TrackingError(f"experiment {name!r} vanished while being created")
            return experiment.experiment_id

    def start_run(self, experiment_id: str, run_name: str | None, run_tags: Mapping[str, str],
                  params: Mapping[str, str], parent_run_id: str | None) -> RunRef:
        """Create a RUNNING run with all tags and params set at once."""
        tags = dict(run_tags)
        tags[t.RUN_ROLE] = "job"
        if parent_run_id:
            tags[t.PARENT_RUN_ID] = parent_run_id
        if run_name:
            tags[t.RUN_NAME] = run_name
        with translate_errors(self.settings):
            run = self.client.create_run(experiment_id, run_name=run_name, tags=tags)
            if params:
                from mlflow.entities import Param

                self.client.log_batch(run.info.run_id, params=[
                    Param(k, t.fit_value(v, t.MAX_PARAM_VALUE_LENGTH)) for k, v in params.items()])
        return RunRef(run.info.run_id, experiment_id, run.info.run_name, parent_run_id)

    def finish_run(self, run: RunRef, status: str) -> None:
        """Mark the run (and its pipeline parent) ended with `status`."""
        with translate_errors(self.settings):
            self.client.set_terminated(run.run_id, status)
            if run.parent_run_id:
                # The parent ends when its last job does: each job moves its end time on.
                self.client.set_terminated(run.parent_run_id, "FINISHED")

    def run_tags(self, run_id: str) -> tuple[str, dict[str, str]]:
        """The experiment id and the tags of run `run_id`.

        Raises:
            TrackingError: there is no such run.
        """
        with translate_errors(self.settings):
            try:
                run = self.client.get_run(run_id)
            except RestException as exc:
                if exc.error_code != "RESOURCE_DOES_NOT_EXIST":
                    raise
                raise TrackingError(f"run {run_id} was not found on "
                                    f"{self.settings.shown_uri}") from exc
        return run.info.experiment_id, dict(run.data.tags)

    def tag_once(self, run_id: str, tags: Mapping[str, str]) -> list[str]:
        """Set the tags run `run_id` does not have yet; return the keys it has with another
        value (left alone: GitLab refuses to set a tag twice, reference §20 #8)."""
        _, current = self.run_tags(run_id)
        new = {k: v for k, v in tags.items() if k not in current}
        if new:
            from mlflow.entities import RunTag

            with translate_errors(self.settings):
                self.client.log_batch(run_id, tags=[RunTag(k, v) for k, v in new.items()])
        return [k for k, v in tags.items() if k in current and current[k] != v]

    def pipeline_run(self, experiment_id: str, pipeline_tags: Mapping[str, str],
                     pipeline_id: int, name: str, since_ms: int | None) -> str:
        """The parent run of pipeline `pipeline_id`, created by the first job to ask.

        Concurrent jobs may each create one; all of them then pick the earliest created
        (the last in GitLab's newest-first order), and the others delete their own.
        """
        with translate_errors(self.settings):
            found = self._pipeline_runs(experiment_id, pipeline_id, since_ms)
            if found:
                return found[-1]
            tags = {**pipeline_tags, t.RUN_ROLE: "pipeline", t.RUN_NAME: name}
            mine = self.client.create_run(experiment_id, run_name=name, tags=tags).info.run_id
            winner = (self._pipeline_runs(experiment_id, pipeline_id, since_ms) or [mine])[-1]
            if winner != mine:
                self._discard(mine)
            return winner

    def _pipeline_runs(self, experiment_id: str, pipeline_id: int, since_ms: int | None
                       ) -> list[str]:
        """Ids of this pipeline's parent runs, newest first."""
        wanted = str(pipeline_id)
        return [run.info.run_id for run in self._recent_runs(experiment_id, since_ms)
                if run.data.tags.get(t.RUN_ROLE) == "pipeline"
                and run.data.tags.get(t.PIPELINE_ID) == wanted]

    def _recent_runs(self, experiment_id: str, since_ms: int | None) -> Iterator:
        """Runs newest first, stopping at those started before `since_ms`."""
        token = None
        while True:
            page = self.client.search_runs([experiment_id], max_results=_PAGE, page_token=token)
            for run in page:
                if since_ms is not None and (run.info.start_time or 0) < since_ms:
                    return
                yield run
            token = page.token
            if not token:
                return

    def _discard(self, run_id: str) -> None:
        try:
            self.client.delete_run(run_id)
        except MlflowException:  # older GitLab has no runs/delete: leave it, marked
            self.client.set_terminated(run_id, "KILLED")


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


@contextmanager
def translate_errors(settings: TrackingSettings) -> Iterator[None]:
    """Turn mlflow exceptions into one-line errors that say what to do."""
    try:
        yield
    except MlflowException as exc:
        raise describe(exc, settings) from exc


def describe(exc: MlflowException, settings: TrackingSettings) -> TrackingError | ConfigError:
    """A clear error for a failed tracking call; never includes the token."""
    body = getattr(exc, "json", None) or {}
    message = str(body.get("message") or "")
    where = settings.shown_uri
    if message.startswith("401"):
        return ConfigError(
            f"the tracking server at {where} rejected MLFLOW_TRACKING_TOKEN (401)",
            hint="use an access token with the `api` scope and the Developer role or higher")
    if body.get("error") == "insufficient_scope" or message.startswith("403"):
        return ConfigError(
            f"MLFLOW_TRACKING_TOKEN may not write to {where} (403: read-only token?)",
            hint="use an access token with the `api` scope, not `read_api`")
    if message.startswith("404") or body.get("error") == "404 Not Found":
        return ConfigError(
            f"{where} was not found: the project does not exist or the token cannot see it",
            hint="check CI_PROJECT_ID / MLFLOW_TRACKING_URI and the token's project membership")
    if body:
        return TrackingError(f"tracking call failed: {exc.message}")
    first_line = str(exc).splitlines()[0][:300]
    if "Max retries exceeded" in first_line or "Connection" in first_line:
        return TrackingError(f"cannot reach the tracking server at {where}",
                             hint="check MLFLOW_TRACKING_URI and the network")
    return TrackingError(f"tracking call failed: {first_line}")
