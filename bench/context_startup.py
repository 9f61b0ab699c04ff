"""Start-up cost of `mlflow-gitlab context`, against `python -c pass` in the same run.

The context command must stay light (no mlflow, no python-gitlab import) because it runs
at the start of CI jobs. Also shown: `import mlflow`, what a careless import would cost.

    python bench/context_startup.py [--repeat 15]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

CI_ENV = {"GITLAB_CI": "true", "CI_JOB_ID": "5001", "CI_JOB_NAME": "train: [0.1]",
          "CI_PIPELINE_ID": "1001", "CI_PIPELINE_SOURCE": "push", "CI_COMMIT_BRANCH": "main"}


def median_seconds(argv: list[str], repeat: int) -> float:
    env = {**os.environ, **CI_ENV}
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    cases = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "mlflow-gitlab context": [sys.executable, "-m", "mlflow_gitlab", "context"],
        "mlflow-gitlab --help": [sys.executable, "-m", "mlflow_gitlab", "--help"],
        "python -c 'import mlflow'": [sys.executable, "-c", "import mlflow"],
    }
    results = {name: median_seconds(argv, args.repeat) for name, argv in cases.items()}
    baseline = results["python -c pass"]
    print(f"{'command':<30}{'median ms':>11}{'vs python -c pass':>20}")
    for name, seconds in results.items():
        print(f"{name:<30}{seconds * 1000:>11.0f}{seconds / baseline:>19.1f}x")


if __name__ == "__main__":
    main()
