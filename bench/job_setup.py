"""Job set-up time: a fresh venv until `mlflow-gitlab --version` answers, uv against pip.

What every CI job of the components pays before its command: install mlflow-gitlab (this
checkout's wheel, built once) and its dependencies from PyPI into a fresh environment. Four
cases in the same run, each in a venv of its own:

- pip, cold cache: `python -m venv` then `pip install <wheel>` with an empty PIP_CACHE_DIR;
- pip, warm cache: the same again, reusing that cache (what `cache:` keeps between jobs);
- uv, cold cache: `python -m venv`, `pip install uv`, `uv pip install <wheel>`, empty caches;
- uv, warm cache: the same, reusing the pip and uv caches.

The ratios are pip's time over uv's. Needs the network (PyPI).

    python bench/job_setup.py [--repeat 1] [--python python3]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def build_wheel(python: str, into: Path) -> Path:
    """This checkout's wheel, dependencies excluded (they come from PyPI in every case)."""
    subprocess.run([python, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir",
                    str(into), str(ROOT)], check=True, env=_env(into / "build-cache"))
    (wheel,) = into.glob("mlflow_gitlab-*.whl")
    return wheel


def set_up(tool: str, python: str, wheel: Path, venv: Path, cache: Path) -> float:
    """Seconds from an empty folder to `mlflow-gitlab --version` exiting 0."""
    env = _env(cache)
    started = time.perf_counter()
    subprocess.run([python, "-m", "venv", str(venv)], check=True, env=env)
    vpython = str(venv / "bin" / "python")
    pip = [vpython, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    if tool == "pip":
        subprocess.run([*pip, str(wheel)], check=True, env=env)
    else:
        subprocess.run([*pip, "uv"], check=True, env=env)
        subprocess.run([vpython, "-m", "uv", "pip", "install", "--quiet", "--python", vpython,
                        str(wheel)], check=True, env=env)
    subprocess.run([str(venv / "bin" / "mlflow-gitlab"), "--version"], check=True, env=env,
                   stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def _env(cache: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PIP_", "UV_", "VIRTUAL_ENV"))}
    env.update({"PIP_CACHE_DIR": str(cache / "pip"), "UV_CACHE_DIR": str(cache / "uv"),
                "UV_LINK_MODE": "copy",  # as in a job: the cache is on another filesystem
                "PIP_CONFIG_FILE": os.devnull, "UV_NO_CONFIG": "1",  # PyPI, as a runner has
                "PIP_DISABLE_PIP_VERSION_CHECK": "1"})
    return env


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=1, help="keep the fastest of N")
    parser.add_argument("--python", default=sys.executable,
                        help="the interpreter a job starts from [default: this one]")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="job-setup-") as tmp:
        work = Path(tmp)
        wheel = build_wheel(args.python, work / "dist")
        results: dict[tuple[str, str], float] = {}
        for tool in ("pip", "uv"):
            cold, warm = [], []
            for attempt in range(args.repeat):
                cache = work / f"cache-{tool}-{attempt}"
                for state, times in (("cold", cold), ("warm", warm)):
                    venv = work / f"venv-{tool}-{state}"
                    times.append(set_up(tool, args.python, wheel, venv, cache))
                    shutil.rmtree(venv)
            results[tool, "cold"], results[tool, "warm"] = min(cold), min(warm)
    print(f"job set-up: fresh venv until `mlflow-gitlab --version` answers "
          f"(fastest of {args.repeat})")
    print(f"{'installer':<10}{'cold cache s':>14}{'warm cache s':>14}")
    for tool in ("pip", "uv"):
        print(f"{tool:<10}{results[tool, 'cold']:>14.1f}{results[tool, 'warm']:>14.1f}")
    for state in ("cold", "warm"):
        ratio = results["pip", state] / results["uv", state]
        print(f"uv vs pip, {state} cache: {ratio:.1f}x faster")
    print(f"goal: uv at least 8x pip, under 5 s cold: "
          f"{results['pip', 'cold'] / results['uv', 'cold']:.1f}x, "
          f"{results['uv', 'cold']:.1f} s")


if __name__ == "__main__":
    main()
