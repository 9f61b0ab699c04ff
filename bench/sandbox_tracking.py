"""How fast the sandbox takes MLflow tracking calls.

Reports requests/s for `runs/log-metric` (one point per request) and `runs/log-batch`
(1,000 points per request), each as a ratio against the sandbox's cheapest route
(`GET /-/sandbox/info`) measured in the same run, over one keep-alive connection.

    python bench/sandbox_tracking.py [--seconds 3]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import requests
from _sandbox import admin_headers, sandbox_process


def rate(call: Callable[[], requests.Response], seconds: float) -> float:
    """Requests per second of `call` over about `seconds`; every answer must be a 2xx."""
    done, started = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - started) < seconds:
        response = call()
        if not response.ok:
            raise SystemExit(f"unexpected {response.status_code}: {response.text[:200]}")
        done += 1
    return done / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="per measurement")
    args = parser.parse_args()
    with sandbox_process() as info:
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {info['tokens']['developer']}"
        mlflow = f"{info['api_url']}/projects/{info['project_id']}/ml/mlflow/api/2.0/mlflow"
        experiment = session.post(f"{mlflow}/experiments/create", json={"name": "bench"}).json()
        run = session.post(f"{mlflow}/runs/create",
                           json={"experiment_id": experiment["experiment_id"]}).json()
        run_id = run["run"]["info"]["run_id"]
        step = iter(range(10**9))
        now_ms = int(time.time() * 1000)

        def noop() -> requests.Response:
            return session.get(f"{info['url']}/-/sandbox/info", headers=admin_headers(info))

        def log_metric() -> requests.Response:
            return session.post(f"{mlflow}/runs/log-metric", json={
                "run_id": run_id, "key": "loss", "value": 0.5, "timestamp": now_ms,
                "step": next(step)})

        def log_batch() -> requests.Response:
            metrics = [{"key": "loss", "value": 0.5, "timestamp": now_ms, "step": next(step)}
                       for _ in range(1000)]
            return session.post(f"{mlflow}/runs/log-batch",
                                json={"run_id": run_id, "metrics": metrics})

        baseline = rate(noop, args.seconds)
        per_call = rate(log_metric, args.seconds)
        batched = rate(log_batch, args.seconds)
    print(f"{'route':<28}{'req/s':>10}{'points/s':>12}{'vs baseline':>14}")
    print(f"{'GET /-/sandbox/info':<28}{baseline:>10.0f}{'-':>12}{1.0:>13.2f}x")
    print(f"{'runs/log-metric':<28}{per_call:>10.0f}{per_call:>12.0f}{per_call / baseline:>13.2f}x")
    print(f"{'runs/log-batch (1000)':<28}{batched:>10.1f}{batched * 1000:>12.0f}"
          f"{batched / baseline:>13.2f}x")
    print(f"log-batch delivers {batched * 1000 / per_call:.0f}x the points/s of log-metric")


if __name__ == "__main__":
    main()
