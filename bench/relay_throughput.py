"""How many metric points per second reach the server with and without the tracking relay.

N processes each run `mlflow-gitlab run -- python child.py`, whose child logs M points with
plain per-call `mlflow.log_metric`, against a sandbox in its own process, behind a proxy
that adds `--latency-ms` to every request (a remote GitLab's round trip), which answers
some write requests with 429 (`Retry-After: 1`) and 503: one of each every `--fault-every`
seconds once the previous pair fired, while every run still logs, so both modes meet the
same failure rate. The same
workload runs twice in this process's run: with `--no-relay` (MLflow's naive per-call
requests, the baseline), then through the relay (the default).

Reported per mode: points/s from each child's first `log_metric` until its `end_run()`
returned (the relay flushes before a run is updated, so that is end to end), write
requests/s, 429/503 answers absorbed by retries, and data lost or duplicated (both must be
0, checked with `metrics/get-history`); then the ratio of points/s.

    python bench/relay_throughput.py [--children 4] [--points 2000] [--latency-ms 25]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import requests
from _latency import latency_proxy
from _sandbox import sandbox_process

CHILD = textwrap.dedent("""
    import json, sys, time, mlflow
    points, out = int(sys.argv[1]), sys.argv[2]
    run = mlflow.start_run()
    started = time.time()
    for step in range(points):
        mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
    mlflow.end_run()
    json.dump({"started": started, "ended": time.time(), "run_id": run.info.run_id},
              open(out, "w"))
""")


@dataclass
class Outcome:
    mode: str
    points: int
    seconds: float
    requests: int
    absorbed: int
    lost: int
    duplicated: int

    @property
    def points_per_s(self) -> float:
        return self.points / self.seconds


def inject_faults(info: dict, route: str, every: float,
                  running: Callable[[], bool]) -> None:
    """A 429 and a 503 on `route` every `every` seconds, once the previous pair has fired,
    while every run still logs: the same failure rate in time for both modes. (Rules left
    pending would pile up while clients back off; faults aimed at the last run left would
    all land on its retries.)"""
    url = f"{info['url']}/-/sandbox/faults"
    while running():
        time.sleep(every)
        if not running() or requests.get(url, timeout=10).json()["pending"]:
            continue
        requests.post(url, json={"method": "POST", "path": route, "status": 429,
                                 "retry_after": 1}, timeout=10)
        requests.post(url, json={"method": "POST", "path": route, "status": 503}, timeout=10)


def run_mode(info: dict, mode: str, children: int, points: int, every: float,
             tmp: Path) -> Outcome:
    relayed = mode == "relay"
    route = r"/runs/log-batch$" if relayed else r"/runs/log-metric$"
    requests.delete(f"{info['url']}/-/sandbox/faults", timeout=10)
    env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp"),
           "MLFLOW_TRACKING_URI": f"{info['remote']}/projects/{info['project_id']}/ml/mlflow",
           "MLFLOW_TRACKING_TOKEN": info["tokens"]["developer"],
           "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1"}
    script = tmp / "child.py"
    script.write_text(CHILD)
    procs = []
    for i in range(children):
        args = [sys.executable, "-m", "mlflow_gitlab", "run", "--experiment", f"bench-{mode}",
                "--run-name", f"{mode}-{i}", *([] if relayed else ["--no-relay"]), "--",
                sys.executable, str(script), str(points), str(tmp / f"{mode}-{i}.json")]
        procs.append(subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, cwd=tmp,
                                      stderr=subprocess.PIPE, text=True))
    injector = threading.Thread(target=inject_faults, args=(
        info, route, every, lambda: all(p.poll() is None for p in procs)))
    injector.start()
    errors = [p.communicate()[1] for p in procs]
    injector.join()
    for proc, err in zip(procs, errors, strict=True):
        if proc.returncode != 0:
            raise SystemExit(f"{mode}: a run failed:\n{err}")
        for line in err.splitlines():
            if "error" in line.lower() or "warning" in line.lower() or "relay:" in line:
                print(f"{mode}: {line}", file=sys.stderr)
    timings = [json.loads((tmp / f"{mode}-{i}.json").read_text()) for i in range(children)]
    fired = requests.get(f"{info['url']}/-/sandbox/faults", timeout=10).json()["fired"]
    absorbed = sum(1 for f in fired if re.search(route, str(f["path"])))
    if relayed:
        sent_in = [int(m) for e in errors for m in re.findall(r"in (\d+) request", e)]
        writes = sum(sent_in)
    else:
        writes = children * points + absorbed
    lost = duplicated = 0
    for timing in timings:
        stored = history_steps(info, timing["run_id"])
        lost += len(set(range(points)) - set(stored))
        duplicated += len(stored) - len(set(stored))
    seconds = max(t["ended"] for t in timings) - min(t["started"] for t in timings)
    return Outcome(mode, children * points, seconds, writes, absorbed, lost, duplicated)


def history_steps(info: dict, run_id: str) -> list[int]:
    url = (f"{info['api_url']}/projects/{info['project_id']}/ml/mlflow/api/2.0/mlflow/"
           "metrics/get-history")
    headers = {"Authorization": f"Bearer {info['tokens']['developer']}"}
    steps, params = [], {"run_id": run_id, "metric_key": "loss", "max_results": 1000}
    while True:
        body = requests.get(url, params=params, headers=headers, timeout=30).json()
        steps += [m.get("step", 0) for m in body.get("metrics", [])]
        if not body.get("next_page_token"):
            return steps
        params["page_token"] = body["next_page_token"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--children", type=int, default=4, help="concurrent tracked runs")
    parser.add_argument("--points", type=int, default=2000, help="points per run")
    parser.add_argument("--latency-ms", type=float, default=25.0,
                        help="added to every request to the sandbox, as a remote GitLab's")
    parser.add_argument("--fault-every", type=float, default=2.0,
                        help="seconds between injected 429+503 pairs")
    args = parser.parse_args()
    outcomes = []
    with sandbox_process() as info, tempfile.TemporaryDirectory(prefix="bench-relay-") as tmp:
        server = urlsplit(info["url"])
        with latency_proxy((server.hostname, server.port), args.latency_ms / 1000) as port:
            info["remote"] = f"http://127.0.0.1:{port}/api/v4"
            for mode in ("per-call", "relay"):
                outcomes.append(run_mode(info, mode, args.children, args.points,
                                         args.fault_every, Path(tmp)))
    print(f"{args.children} runs x {args.points} points, per-call mlflow.log_metric; "
          f"{args.latency_ms:g} ms per request to the server; "
          f"a 429 and a 503 every {args.fault_every:g} s")
    print(f"{'mode':<10}{'points/s':>10}{'requests/s':>12}{'requests':>10}"
          f"{'absorbed':>10}{'lost':>6}{'dup':>5}")
    for o in outcomes:
        print(f"{o.mode:<10}{o.points_per_s:>10.0f}{o.requests / o.seconds:>12.1f}"
              f"{o.requests:>10}{o.absorbed:>10}{o.lost:>6}{o.duplicated:>5}")
    base, relay = outcomes
    print(f"relay delivers {relay.points_per_s / base.points_per_s:.1f}x the points/s of "
          f"per-call log_metric with {base.requests / max(relay.requests, 1):.0f}x fewer "
          "requests")
    if any(o.lost or o.duplicated for o in outcomes):
        raise SystemExit("data was lost or duplicated")


if __name__ == "__main__":
    main()
