"""Runs of a pipeline on GitLab's MLflow: read, filtered client-side, ranked by a metric.

GitLab's `runs/search` ignores filters and returns runs newest first, so
candidates are found by paging through runs client-side: raw JSON, 1,000 runs a page (the
cap), no MLflow entities built; paging stops at the first run that started before the
pipeline was created.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from mlflow_gitlab import tags as t
from mlflow_gitlab.errors import NothingToRelease, ReleaseError, TrackingRefused
from mlflow_gitlab.settings import TrackingSettings
from mlflow_gitlab.tracking.client import MlflowAPI

PAGE = 1000  # GitLab caps max_results at 1,000


@dataclass(frozen=True)
class Candidate:
    """A run that may become a model version."""

    run_id: str
    experiment_id: str
    status: str
    start_time: int
    name: str | None = None
    metrics: Mapping[str, float] = field(default_factory=dict)
    tags: Mapping[str, str] = field(default_factory=dict)
    artifact_uri: str = ""  # where GitLab keeps the run's own files

    @classmethod
    def from_json(cls, run: Mapping[str, Any]) -> Candidate:
        """From a `runs/search` or `runs/get` Run entity (only latest metric values)."""
        info, data = run["info"], run.get("data") or {}
        return cls(
            run_id=info["run_id"], experiment_id=str(info["experiment_id"]),
            status=info.get("status", ""), start_time=int(info.get("start_time") or 0),
            name=info.get("run_name"),
            metrics={m["key"]: float(m["value"]) for m in data.get("metrics") or []},
            tags={x["key"]: x["value"] for x in data.get("tags") or []},
            artifact_uri=info.get("artifact_uri") or "")


class RunSource:
    """Runs of one tracking server as raw JSON, read through the helper's retrying MLflow
    client (our HTTP layer: retries, deadlines, caps), skipping MLflow's slow entity
    parsing."""

    def __init__(self, settings: TrackingSettings, api: MlflowAPI | None = None) -> None:
        self.settings = settings
        self.api = api or MlflowAPI(settings)

    def _call(self, method: str, endpoint: str, missing: str | None, *,
              keys: tuple[str, ...] = (),
              check: Callable[[dict[str, Any]], str | None] | None = None, **kwargs: Any
              ) -> dict[str, Any] | None:
        """The JSON answer, an object holding `keys` that `check` finds nothing wrong with
        (it names the problem). On RESOURCE_DOES_NOT_EXIST: a ReleaseError saying
        `missing`, or None when `missing` is None.

        Raises:
            UnexpectedAnswer: the answer is not such JSON.
        """
        call = f"{method} {endpoint}"
        try:
            if method == "GET":
                answer = self.api.get(endpoint, kwargs.get("params") or {})
            else:
                answer = self.api.send(method, endpoint, kwargs.get("json") or {})
        except TrackingRefused as exc:
            if exc.error_code != "RESOURCE_DOES_NOT_EXIST":
                raise
            if missing is None:
                return None
            raise ReleaseError(missing, hint="check --run and --experiment: they must belong "
                                             "to this project") from None
        for key in keys:
            self.api.field(answer, call, key)
        problem = check(answer) if check is not None else None
        if problem:
            raise self.api.odd(answer, call, problem)
        return answer

    def newest_first(self, experiment_id: str) -> Iterator[dict[str, Any]]:
        """Every run of the experiment as raw JSON, newest first, page after page."""
        token: str | None = None
        while True:
            body = {"experiment_ids": [experiment_id], "max_results": PAGE}
            if token:
                body["page_token"] = token
            page = self._call("POST", "runs/search", f"experiment {experiment_id} was not found",
                              check=lambda answer: _bad_runs(answer.get("runs") or []),
                              json=body) or {}
            yield from page.get("runs") or []
            token = page.get("next_page_token")
            if not token:
                return

    def get(self, run_id: str) -> Candidate:
        """One run by id.

        Raises:
            ReleaseError: no such run in this project.
        """
        answer = self._call("GET", "runs/get", f"run {run_id} was not found", keys=("run",),
                            check=lambda answer: _bad_runs([answer["run"]]),
                            params={"run_id": run_id}) or {}
        return Candidate.from_json(self.api.field(answer, "GET runs/get", "run"))

    def experiment_id(self, name: str) -> str | None:
        """The id of experiment `name`, or None when there is none."""
        answer = self._call("GET", "experiments/get-by-name", None, keys=("experiment",),
                            check=_bad_experiment, params={"experiment_name": name})
        return None if answer is None else str(answer["experiment"]["experiment_id"])


def pipeline_candidates(runs: Iterable[Mapping[str, Any]], pipeline_id: int,
                        metric: str | None, since_ms: int | None = None) -> list[Candidate]:
    """The finished job runs (made by `mlflow-gitlab run`) of pipeline `pipeline_id` and
    of its child pipelines that logged `metric`, when given.

    Args:
        runs: raw runs newest first; consumed only until one started before `since_ms`
            (runs without a start time are skipped, not taken as the end).
    """
    found = finished_runs(runs, lambda tags: of_pipeline(tags, pipeline_id)
                          and tags.get(t.RUN_ROLE) == "job", since_ms)
    # not this pipeline's, its parent run, or a script's nested run: all left out above
    return [c for c in found if metric is None or _finite(c.metrics.get(metric))]


def finished_runs(runs: Iterable[Mapping[str, Any]], accept: Callable[[dict[str, str]], bool],
                  since_ms: int | None = None) -> list[Candidate]:
    """The FINISHED runs whose tags `accept` takes, each once, scanning newest first and
    stopping at the first run started before `since_ms`."""
    return scan_runs(runs, accept, since_ms)


def pipeline_runs(runs: Iterable[Mapping[str, Any]], pipeline_id: int,
                  since_ms: int | None = None) -> list[Candidate]:
    """Every run of pipeline `pipeline_id` and its child pipelines but their parent runs, in
    any status: the job runs, runs a script nested in them, and runs the plugin alone tagged."""
    return scan_runs(runs, lambda tags: of_pipeline(tags, pipeline_id)
                     and tags.get(t.RUN_ROLE) != "pipeline", since_ms, finished_only=False)


def of_pipeline(tags: Mapping[str, str], pipeline_id: int) -> bool:
    """Whether a run with these tags ran in pipeline `pipeline_id` or in a child of it."""
    wanted = str(pipeline_id)
    return wanted in (tags.get(t.PIPELINE_ID), tags.get(t.PARENT_PIPELINE_ID))


def scan_runs(runs: Iterable[Mapping[str, Any]], accept: Callable[[dict[str, str]], bool],
              since_ms: int | None = None, *, finished_only: bool = True) -> list[Candidate]:
    """The runs (only FINISHED ones unless told) whose tags `accept` takes, each once,
    scanning newest first and stopping at the first run started before `since_ms`."""
    seen, found = set(), []
    for run in runs:
        info = run["info"]
        start = int(info.get("start_time") or 0)
        if since_ms is not None and 0 < start < since_ms:
            break
        if (finished_only and info.get("status") != "FINISHED") or info["run_id"] in seen:
            continue  # offset page tokens may repeat a run when new ones arrive meanwhile
        run_tags = {x["key"]: x["value"] for x in (run.get("data") or {}).get("tags") or []}
        if accept(run_tags):
            seen.add(info["run_id"])
            found.append(Candidate.from_json(run))
    return found


def best(candidates: list[Candidate], metric: str | None, mode: str) -> Candidate:
    """The best candidate by `metric` (`mode` min or max); the earliest run wins a tie.

    Raises:
        NothingToRelease: no candidates.
        ReleaseError: several candidates and no metric to choose by.
    """
    if not candidates:
        raise NothingToRelease(
            "no finished job run of this pipeline" +
            (f" logged the metric {metric!r}" if metric else ""),
            hint="job runs are those `mlflow-gitlab run` made; pass --run to release another")
    if metric is None:
        if len(candidates) > 1:
            raise ReleaseError(f"{len(candidates)} runs of this pipeline could be released",
                               hint="pass --metric (and --mode) to pick the best, or --run")
        return candidates[0]
    return ranked(candidates, metric, mode)[0]


def ranked(candidates: Iterable[Candidate], metric: str, mode: str) -> list[Candidate]:
    """Best first by `metric` (`mode` min or max), the earliest run first on a tie; runs
    that did not log it, or logged NaN or infinity, last, newest first."""
    sign = 1 if mode == "min" else -1

    def key(c: Candidate) -> tuple[int, float, int]:
        value = c.metrics.get(metric)
        if not _finite(value):
            return (1, 0.0, -c.start_time)
        return (0, sign * float(value), c.start_time)  # type: ignore[arg-type]

    return sorted(candidates, key=key)


def _bad_runs(runs: Any) -> str | None:
    """What is wrong with a list of Run entities, if anything (None: nothing)."""
    if not isinstance(runs, list):
        return "runs that are not a list"
    try:
        for run in runs:
            Candidate.from_json(run)
    except (KeyError, TypeError, ValueError, AttributeError):
        return "a run without the fields of MLflow's Run"
    return None


def _bad_experiment(answer: Mapping[str, Any]) -> str | None:
    found = answer["experiment"]
    ok = isinstance(found, dict) and "experiment_id" in found
    return None if ok else "an experiment without experiment_id"


def _finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)
