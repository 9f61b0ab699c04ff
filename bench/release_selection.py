"""How fast `mlflow-gitlab release` finds its candidate among many runs.

GitLab's runs search has no filter, so the release pages through the whole
experiment and filters on its tags client-side. For 100, 1,000 and 10,000 runs (job runs
of 10 per pipeline, each with the tags `mlflow-gitlab run` sets and a metric; the pipeline
being released is the newest), it prints the time of:

- baseline: paging through every run with the raw REST call (requests, 1,000 a page);
- selection: the release's full scan (`pipeline_candidates` + `best`), as a ratio to it;
- early stop: the same with CI_PIPELINE_CREATED_AT known (paging stops at older runs);
- mlflow client: paging with `MlflowClient.search_runs` instead, for comparison.

The sandbox runs in its own process; runs are created with raw REST calls from a few
threads.

    python bench/release_selection.py [--sizes 100,1000,10000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import requests
from _sandbox import sandbox_process

RUNS_PER_PIPELINE = 10
HOUR_MS = 3_600_000


def create_runs(info: dict[str, Any], experiment_id: str, count: int, first_pipeline: int
                ) -> int:
    """`count` finished job runs, 10 per pipeline, older pipelines first; the newest id."""
    mlflow = f"{info['api_url']}/projects/{info['project_id']}/ml/mlflow/api/2.0/mlflow"
    headers = {"Authorization": f"Bearer {info['tokens']['developer']}"}
    pipelines = count // RUNS_PER_PIPELINE
    now = int(time.time() * 1000)
    local = threading.local()

    def session() -> requests.Session:
        if not hasattr(local, "s"):
            local.s = requests.Session()
            local.s.headers.update(headers)
        return local.s

    def one(n: int) -> None:
        p = first_pipeline + n // RUNS_PER_PIPELINE
        started = now - (pipelines - 1 - n // RUNS_PER_PIPELINE) * HOUR_MS
        tags = {"mlflow-gitlab.role": "job", "gitlab.CI_PIPELINE_ID": str(p),
                "gitlab.CI_PIPELINE_IID": str(p), "gitlab.CI_JOB_NAME": f"train: [{n}]",
                "gitlab.CI_COMMIT_REF_NAME": "main", "gitlab.CI_PIPELINE_SOURCE": "schedule",
                "mlflow.source.git.commit": "a" * 40, "mlflow.source.type": "JOB",
                "mlflow.user": "dev", "gitlab.matrix.LR": str(n % 7 / 10)}
        s = session()
        run = s.post(f"{mlflow}/runs/create", json={
            "experiment_id": experiment_id, "run_name": f"train [{n}]", "start_time": started,
            "tags": [{"key": k, "value": v} for k, v in tags.items()]})
        run_id = run.json()["run"]["info"]["run_id"]
        s.post(f"{mlflow}/runs/log-batch", json={"run_id": run_id, "metrics": [
            {"key": "loss", "value": 1 / (n + 1), "timestamp": started, "step": 0}]})
        s.post(f"{mlflow}/runs/update", json={"run_id": run_id, "status": "FINISHED",
                                               "end_time": started + 1000})

    # Pipelines one after the other (runs of one pipeline in parallel), so that GitLab's
    # newest-first order puts the newest pipeline on top.
    with ThreadPoolExecutor(max_workers=RUNS_PER_PIPELINE) as pool:
        for p in range(pipelines):
            list(pool.map(one, range(p * RUNS_PER_PIPELINE, (p + 1) * RUNS_PER_PIPELINE)))
    return first_pipeline + pipelines - 1


class Measure:
    """The four ways of reading one experiment's runs, each timed best of `repeat`."""

    def __init__(self, info: dict[str, Any], repeat: int) -> None:
        from mlflow.tracking import MlflowClient

        from mlflow_gitlab.settings import TrackingSettings
        from mlflow_gitlab.tracking.run_search import RunSource

        token = info["tokens"]["developer"]
        self.uri = f"{info['api_url']}/projects/{info['project_id']}/ml/mlflow"
        self.source = RunSource(TrackingSettings(self.uri, token, info["api_url"], "7"))
        self.client = MlflowClient(tracking_uri=self.uri)
        self.raw = requests.Session()
        self.raw.headers["Authorization"] = f"Bearer {token}"
        self.repeat = repeat

    def experiment(self, name: str) -> str:
        return self.raw.post(f"{self.uri}/api/2.0/mlflow/experiments/create",
                             json={"name": name}).json()["experiment_id"]

    def baseline(self, experiment_id: str) -> int:
        """Page through every run with the raw REST call; the number of runs."""
        seen, token = 0, None
        while True:
            body: dict[str, Any] = {"experiment_ids": [experiment_id], "max_results": 1000}
            if token:
                body["page_token"] = token
            page = self.raw.post(f"{self.uri}/api/2.0/mlflow/runs/search", json=body).json()
            seen += len(page["runs"])
            token = page.get("next_page_token")
            if not token:
                return seen

    def select(self, experiment_id: str, pipeline: int, since: int | None) -> str:
        """What the release does: find the pipeline's runs, pick the best."""
        from mlflow_gitlab.tracking.run_search import best, pipeline_candidates

        found = pipeline_candidates(self.source.newest_first(experiment_id), pipeline, "loss",
                                    since)
        assert len(found) == RUNS_PER_PIPELINE, len(found)
        return best(found, "loss", "min").run_id

    def with_client(self, experiment_id: str) -> int:
        """Page through every run with MLflow's client (entities parsed from protobuf)."""
        seen, token = 0, None
        while True:
            page = self.client.search_runs([experiment_id], max_results=1000, page_token=token)
            seen += len(page)
            token = page.token
            if not token:
                return seen

    def time(self, fn: Callable[..., object], *args: Any) -> float:
        times = []
        for _ in range(self.repeat):
            started = time.perf_counter()
            fn(*args)
            times.append(time.perf_counter() - started)
        return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,1000,10000", help="run counts, comma-separated")
    parser.add_argument("--repeat", type=int, default=3, help="best of this many")
    args = parser.parse_args()
    with sandbox_process() as info:
        os.environ["MLFLOW_TRACKING_TOKEN"] = info["tokens"]["developer"]
        from mlflow_gitlab.tracking.runs import scan_start_ms

        m = Measure(info, args.repeat)
        print(f"{'runs':>7}{'baseline':>11}{'selection':>11}{'ratio':>8}{'early stop':>12}"
              f"{'mlflow client':>15}")
        for count in (int(s) for s in args.sizes.split(",")):
            experiment_id = m.experiment(f"bench-{count}")
            newest = create_runs(info, experiment_id, count, first_pipeline=count * 10)
            assert m.baseline(experiment_id) == count
            created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 60))
            base = m.time(m.baseline, experiment_id)
            full = m.time(m.select, experiment_id, newest, None)
            early = m.time(m.select, experiment_id, newest, scan_start_ms(created))
            stock = m.time(m.with_client, experiment_id)
            print(f"{count:>7}{base:>10.3f}s{full:>10.3f}s{full / base:>7.2f}x{early:>11.3f}s"
                  f"{stock:>14.3f}s")


if __name__ == "__main__":
    main()
