"""How many metric points per second reach the server with and without the tracking relay.

N processes each run `mlflow-gitlab run -- python child.py`, whose child logs M points with
plain per-call `mlflow.log_metric`, against a sandbox in its own process, behind a proxy
that adds a latency to every request (a remote GitLab's round trip), which answers some
write requests with 429 (`Retry-After: 1`) and 503: on the metric route, one of each every
`--fault-every` seconds once the previous pair fired, while every run still logs, so every
mode meets the same failure rate; and one of each per run on every other write (the
experiment's create, once, `runs/create` and `runs/update`), the helper's as the child's.
For each latency the same workload runs four times in this process's run: with
`--no-relay` (MLflow's naive per-call requests, the baseline), through the relay with
`--no-journal` (each call a synchronous HTTP request to the relay), through the relay as
`run` sets it up by default (each call appended to the metric journal), and with
MLflow's async logging turned on as well (`MLFLOW_ENABLE_ASYNC_LOGGING=true`; `run` then
has MLflow merge calls into batches every second). The child ends its run with
`end_run()`, which async logging needs to send its last points (docs/relay.md). The relayed
modes log `--relay-scale` (10) times as many points: their runs would otherwise last a
second or two, and the one-second wait of a single 429 would decide their rate, where it
costs the baseline's minutes-long runs nothing.

Reported per mode: points/s from each child's first `log_metric` until its `end_run()`
returned (MLflow sends what its async queue holds and the relay sends what it holds before
a run is updated, so that is end to end), write requests/s to the server, 429/503 answers
absorbed by retries (on the metric route, and on the other writes), data lost or
duplicated (both must be 0, checked with `metrics/get-history`) and runs created twice
(must be 0, counted with `runs/search`); then the ratio of points/s to the baseline, per
latency.

    python bench/relay_throughput.py [--children 4] [--points N] [--latency-ms 0,10,25,100]
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
from _sandbox import admin_headers, sandbox_process

CHILD = textwrap.dedent("""
    import json, sys, time, mlflow
    points, out = int(sys.argv[1]), sys.argv[2]
    run = mlflow.start_run()
    started = time.time()
    for step in range(points):
        mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
    logged = time.time()
    mlflow.end_run()
    json.dump({"started": started, "logged": logged, "ended": time.time(),
               "run_id": run.info.run_id}, open(out, "w"))
""")
MODES = {  # mode -> (`run` options, environment added)
    "per-call": (["--no-relay"], {}),
    "relay-http": (["--no-journal"], {}),
    "relay": ([], {}),
    "relay-async": ([], {"MLFLOW_ENABLE_ASYNC_LOGGING": "true"}),
}


@dataclass
class Outcome:
    mode: str
    points: int
    seconds: float
    call_us: float  # mean time a `log_metric` call held the child
    requests: int
    absorbed: int
    lost: int
    duplicated: int
    other_faults: int  # 429/503 absorbed on the other writes (experiment, run create/update)
    extra_runs: int  # job runs beyond one per child: a create made twice

    @property
    def points_per_s(self) -> float:
        return self.points / self.seconds


# The other writes of a tracked run: each meets a 429 and a 503 per run (the experiment's
# create: once), whatever the mode: the helper's own calls and the child's.
OTHER_WRITES = (r"/experiments/create$", r"/runs/create$", r"/runs/update$")


def inject_pair(url: str, route: str, admin: dict[str, str], times: int = 1) -> None:
    """A 429 (`Retry-After: 1`) and a 503 on the next `times` requests to `route` each."""
    for fault in ({"status": 429, "retry_after": 1}, {"status": 503}):
        requests.post(url, json={"method": "POST", "path": route, "times": times, **fault},
                      headers=admin, timeout=10)


def inject_faults(info: dict, route: str, every: float,
                  running: Callable[[], bool]) -> None:
    """A 429 and a 503 on `route` every `every` seconds, once the previous pair has fired,
    while every run still logs: the same failure rate in time for every mode. (Rules left
    pending would pile up while clients back off; faults aimed at the last run left would
    all land on its retries.)"""
    url, admin = f"{info['url']}/-/sandbox/faults", admin_headers(info)
    while every > 0 and running():
        time.sleep(every)
        pending = requests.get(url, headers=admin, timeout=10).json()["pending"]
        if not running() or any(rule["path"] == route for rule in pending):
            continue
        inject_pair(url, route, admin)


def run_mode(info: dict, mode: str, children: int, points: int, every: float,
             tmp: Path) -> Outcome:
    options, extra_env = MODES[mode]
    relayed = mode != "per-call"
    route = r"/runs/log-batch$" if relayed else r"/runs/log-metric$"
    faults = f"{info['url']}/-/sandbox/faults"
    requests.delete(faults, headers=admin_headers(info), timeout=10)
    if every > 0:
        for write in OTHER_WRITES:
            inject_pair(faults, write, admin_headers(info),
                        1 if "experiments" in write else children)
    env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp"),
           "MLFLOW_TRACKING_URI": f"{info['remote']}/projects/{info['project_id']}/ml/mlflow",
           "MLFLOW_TRACKING_TOKEN": info["tokens"]["developer"],
           "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1", **extra_env}
    script = tmp / "child.py"
    script.write_text(CHILD)
    tag = f"{mode}-{info['latency_ms']:g}ms"
    procs = []
    for i in range(children):
        args = [sys.executable, "-m", "mlflow_gitlab", "run", "--experiment", f"bench-{tag}",
                "--run-name", f"{tag}-{i}", *options, "--",
                sys.executable, str(script), str(points), str(tmp / f"{tag}-{i}.json")]
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
                print(f"{tag}: {line}", file=sys.stderr)
    timings = [json.loads((tmp / f"{tag}-{i}.json").read_text()) for i in range(children)]
    fired = requests.get(faults, headers=admin_headers(info), timeout=10).json()["fired"]
    absorbed = sum(1 for f in fired if re.search(route, str(f["path"])))
    others = sum(1 for f in fired if any(re.search(w, str(f["path"])) for w in OTHER_WRITES))
    if relayed:
        writes = sum(int(m) for e in errors for m in re.findall(r"in (\d+) request", e))
    else:
        writes = children * points + absorbed
    lost = duplicated = 0
    extra_runs = len(job_runs(info, f"bench-{tag}")) - children
    for timing in timings:
        stored = history_steps(info, timing["run_id"])
        lost += len(set(range(points)) - set(stored))
        duplicated += len(stored) - len(set(stored))
    seconds = max(t["ended"] for t in timings) - min(t["started"] for t in timings)
    call_us = sum(t["logged"] - t["started"] for t in timings) / (children * points) * 1e6
    return Outcome(mode, children * points, seconds, call_us, writes, absorbed, lost,
                   duplicated, others, extra_runs)


def job_runs(info: dict, experiment: str) -> list[dict]:
    """The runs `mlflow-gitlab run` made in `experiment` (tag `mlflow-gitlab.role=job`)."""
    base = f"{info['api_url']}/projects/{info['project_id']}/ml/mlflow/api/2.0/mlflow"
    headers = {"Authorization": f"Bearer {info['tokens']['developer']}"}
    found = requests.get(f"{base}/experiments/get-by-name", params={
        "experiment_name": experiment}, headers=headers, timeout=30).json()
    runs = requests.post(f"{base}/runs/search", json={
        "experiment_ids": [found["experiment"]["experiment_id"]], "max_results": 1000},
        headers=headers, timeout=30).json().get("runs") or []
    return [run for run in runs if {"key": "mlflow-gitlab.role", "value": "job"}
            in (run.get("data") or {}).get("tags", [])]


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


def default_points(latency_ms: float) -> int:
    """Points per baseline run at `latency_ms`: the per-call baseline ends in one to four
    minutes (the relayed modes log `--relay-scale` times as many)."""
    for below, points in ((5, 10_000), (20, 5000), (50, 3000)):
        if latency_ms < below:
            return points
    return 2000


def print_table(outcomes: list[Outcome]) -> None:
    print(f"{'mode':<12}{'points/s':>10}{'call us':>9}{'requests/s':>12}{'requests':>10}"
          f"{'absorbed':>10}{'others':>8}{'lost':>6}{'dup':>5}{'runs+':>7}{'ratio':>8}")
    base = outcomes[0].points_per_s
    for o in outcomes:
        print(f"{o.mode:<12}{o.points_per_s:>10.0f}{o.call_us:>9.0f}"
              f"{o.requests / o.seconds:>12.1f}{o.requests:>10}{o.absorbed:>10}"
              f"{o.other_faults:>8}{o.lost:>6}{o.duplicated:>5}{o.extra_runs:>7}"
              f"{o.points_per_s / base:>7.1f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--children", type=int, default=4, help="concurrent tracked runs")
    parser.add_argument("--points", type=int, default=None,
                        help="points per run (default: by latency, 10,000 at 0 ms down to "
                             "2,000 at 100 ms)")
    parser.add_argument("--latency-ms", default="25",
                        help="comma-separated latencies added to every request to the "
                             "sandbox, as a remote GitLab's (e.g. 0,10,25,100)")
    parser.add_argument("--relay-scale", type=int, default=10,
                        help="the relayed modes log this many times --points, so that their "
                             "runs last long enough for the fixed waits of a 429 to weigh "
                             "as little as in the baseline's (default 10)")
    parser.add_argument("--fault-every", type=float, default=2.0,
                        help="seconds between injected 429+503 pairs (0: none; with one "
                             "run, every fault lands on its retries)")
    parser.add_argument("--modes", default=",".join(MODES),
                        help=f"comma-separated, the first is the baseline ({', '.join(MODES)})")
    args = parser.parse_args()
    latencies = [float(x) for x in args.latency_ms.split(",") if x.strip()]
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    if unknown := set(modes) - set(MODES):
        parser.error(f"unknown mode(s): {', '.join(sorted(unknown))}")
    results: list[tuple[float, int, list[Outcome]]] = []
    with sandbox_process() as info, tempfile.TemporaryDirectory(prefix="bench-relay-") as tmp:
        server = urlsplit(info["url"])
        for latency in latencies:
            points = args.points or default_points(latency)
            with latency_proxy((server.hostname, server.port), latency / 1000) as port:
                info["remote"] = f"http://127.0.0.1:{port}/api/v4"
                info["latency_ms"] = latency
                outcomes = [run_mode(info, mode, args.children,
                                 points * (1 if mode == "per-call" else args.relay_scale),
                                 args.fault_every, Path(tmp)) for mode in modes]
            results.append((latency, points, outcomes))
            print(f"\n{args.children} runs x {points} points (x{args.relay_scale} through the "
                  "relay), per-call mlflow.log_metric; "
                  f"{latency:g} ms per request to the server; " + (
                      f"a 429 and a 503 every {args.fault_every:g} s" if args.fault_every > 0
                      else "no injected faults"), flush=True)
            print_table(outcomes)
    print(f"\npoints/s against per-call log_metric ({modes[0]}), {args.children} runs at once; "
          f"the relayed modes log {args.relay_scale} times the points")
    print(f"{'latency':>8}{'points':>8}" + "".join(f"{m:>12}" for m in modes))
    for latency, points, outcomes in results:
        base = outcomes[0].points_per_s
        print(f"{latency:>6g}ms{points:>8}" + "".join(
            f"{o.points_per_s:>6.0f} {o.points_per_s / base:>4.1f}x" for o in outcomes))
    if any(o.lost or o.duplicated or o.extra_runs
           for _, _, outcomes in results for o in outcomes):
        raise SystemExit("data was lost or duplicated, or a run was created twice")


if __name__ == "__main__":
    main()
