"""Candidate selection over raw runs, as GitLab's runs search returns them (newest first)."""

from __future__ import annotations

import pytest

from mlflow_gitlab.errors import NothingToRelease, ReleaseError
from mlflow_gitlab.tracking.run_search import best, pipeline_candidates, pipeline_runs, ranked


def run(run_id, pipeline=7, loss=0.5, status="FINISHED", role="job", start=1000,
        parent=None):
    tags = {"gitlab.CI_PIPELINE_ID": str(pipeline)}
    if parent is not None:
        tags["gitlab.PARENT_PIPELINE_ID"] = str(parent)
    if role:
        tags["mlflow-gitlab.role"] = role
    return {"info": {"run_id": run_id, "experiment_id": "1", "status": status,
                     "start_time": start},
            "data": {"metrics": [] if loss is None else [{"key": "loss", "value": loss}],
                     "tags": [{"key": k, "value": v} for k, v in tags.items()]}}


def ids(candidates):
    return [c.run_id for c in candidates]


def test_only_finished_job_runs_of_the_pipeline_with_the_metric():
    runs = [run("a"), run("b", pipeline=8), run("c", status="RUNNING"), run("d", role=None),
            run("e", role="pipeline"), run("f", loss=None), run("g", loss=float("nan")),
            run("a")]  # repeated by an offset page token
    assert ids(pipeline_candidates(runs, 7, "loss")) == ["a"]
    assert ids(pipeline_candidates(runs, 7, None)) == ["a", "f", "g"]


def test_a_child_pipelines_runs_are_its_parents_too():
    runs = [run("child", pipeline=8, parent=7), run("own"), run("other", pipeline=9, parent=6),
            run("child-run-of-the-child", pipeline=8, parent=7, role=None)]
    assert ids(pipeline_candidates(runs, 7, "loss")) == ["child", "own"]
    assert ids(pipeline_candidates(runs, 8, "loss")) == ["child"]  # and the child's own
    assert ids(pipeline_runs(runs, 7)) == ["child", "own", "child-run-of-the-child"]


def test_paging_stops_at_the_first_run_older_than_the_pipeline():
    consumed = []

    def newest_first():
        for r in (run("a", start=5000), run("b", start=0), run("c", start=4000),
                  run("old", start=100), run("never", start=9000)):
            consumed.append(r["info"]["run_id"])
            yield r

    assert ids(pipeline_candidates(newest_first(), 7, "loss", since_ms=1000)) == ["a", "b", "c"]
    assert consumed == ["a", "b", "c", "old"]  # a run without start time does not stop it


def test_best_by_mode_and_the_earliest_wins_a_tie():
    found = pipeline_candidates([run("a", loss=0.3, start=3), run("b", loss=0.1, start=2),
                                 run("c", loss=0.1, start=1)], 7, "loss")
    assert best(found, "loss", "min").run_id == "c"
    assert best(found, "loss", "max").run_id == "a"


def test_no_candidate_or_no_way_to_choose():
    with pytest.raises(NothingToRelease, match="logged the metric 'loss'"):
        best([], "loss", "min")
    found = pipeline_candidates([run("a"), run("b")], 7, None)
    with pytest.raises(ReleaseError, match="2 runs of this pipeline"):
        best(found, None, "min")
    assert best(found[:1], None, "min").run_id == "a"


def test_a_pipelines_runs_in_any_status_without_its_parent():
    runs = [run("a"), run("b", pipeline=8), run("c", status="RUNNING"), run("d", role=None),
            run("e", role="pipeline"), run("f", status="FAILED", loss=None), run("a")]
    assert ids(pipeline_runs(runs, 7)) == ["a", "c", "d", "f"]


def test_ranked_best_first_and_runs_without_the_metric_last_newest_first():
    found = pipeline_runs([run("a", loss=0.3, start=5), run("b", loss=None, start=4),
                           run("c", loss=0.1, start=3), run("d", loss=float("inf"), start=6),
                           run("e", loss=0.1, start=2)], 7)
    assert ids(ranked(found, "loss", "min")) == ["e", "c", "a", "d", "b"]
    assert ids(ranked(found, "loss", "max")) == ["a", "e", "c", "d", "b"]
