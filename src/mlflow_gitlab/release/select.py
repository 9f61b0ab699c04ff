"""Pick the release candidate: the best finished job run of this pipeline by a metric."""

from __future__ import annotations

import logging

from mlflow_gitlab.errors import NothingToRelease, ReleaseError
from mlflow_gitlab.tracking.run_search import Candidate, RunSource, best, pipeline_candidates

log = logging.getLogger(__name__)
MODES = ("min", "max")


def select(source: RunSource, *, run_id: str | None, experiment: str, pipeline_id: int | None,
           metric: str | None, mode: str, since_ms: int | None) -> tuple[Candidate, str]:
    """The run to release and how it was chosen (`min loss`, `--run`, ...).

    Args:
        source: where runs are read.
        run_id: the run to release, if given (`--run`).
        experiment: the experiment to search for the pipeline's runs.
        pipeline_id: this pipeline.
        metric, mode: how to pick the best run.
        since_ms: no run of this pipeline started before (to stop paging early).

    Raises:
        NothingToRelease: no candidate.
        ReleaseError: the given run is missing or not finished, or no way to choose.
    """
    if run_id:
        candidate = source.get(run_id)
        if candidate.status != "FINISHED":
            raise ReleaseError(f"run {run_id} is {candidate.status}, not FINISHED",
                               hint="release a run that finished successfully")
        return candidate, "--run"
    experiment_id = source.experiment_id(experiment)
    if experiment_id is None or pipeline_id is None:
        raise NothingToRelease(f"experiment {experiment!r} does not exist, so no run to release")
    found = pipeline_candidates(source.newest_first(experiment_id), pipeline_id, metric, since_ms)
    chosen = best(found, metric, mode)
    log.info("candidate: run %s of %d in this pipeline", chosen.run_id, len(found))
    return chosen, (f"{mode} {metric}" if metric else "the pipeline's only run")
