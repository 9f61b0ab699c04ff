"""Job set-up time: a fresh venv until `mlflow-gitlab --version` answers, uv against pip.

What every CI job of the components pays before its command: install mlflow-gitlab (this
checkout's wheel, built once) and its dependencies from PyPI into a fresh environment. Four
cases in the same run, each in a venv of its own:

- pip, cold cache: `python -m venv` then `pip install <wheel>` with an empty PIP_CACHE_DIR;
- pip, warm cache: the same again, reusing that cache (what `cache:` keeps between jobs);
- uv, cold cache: `pip install --target <cache>/uv-tool uv` (as a job gets uv), `uv venv`,
  `uv pip install <wheel>`, with empty caches (first with `--offline`, as a job: it fails at
  once on an empty cache);
- uv, warm cache: the same reusing the caches, uv included (so no `pip install uv`);
- uv image, cold and warm: uv already on the image, as on the components' default image
  (Astral's Python image with uv): `uv venv`, `uv pip install <wheel>`.

Each phase is timed (`uv` is getting uv with pip); the ratios are pip's time over uv's, in
all and in the install alone. `--requirements FILE` installs a training job's requirements
in the same command, as the `train` and `tune` components do with their `requirements`
input. Needs the network (PyPI).

    python bench/job_setup.py [--repeat 1] [--python python3] [--requirements FILE]
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


def set_up(tool: str, python: str, wheel: Path, venv: Path, cache: Path,
           image_uv: str | None = None, extra: tuple[str, ...] = ()) -> dict[str, float]:
    """Seconds of each phase, from an empty folder to `mlflow-gitlab --version` exiting 0:
    `venv`, `uv` (installing uv with pip, unless `image_uv` is uv on the image), `install`
    (of the wheel and the `extra` install arguments), `answer`, and their `total`."""
    env = _env(cache)
    phases: dict[str, float] = {}

    def timed(phase: str, argv: list[str], *, else_: list[str] | None = None) -> None:
        """Run `argv`; when it fails and `else_` is given, run that instead (quietly)."""
        started = time.perf_counter()
        done = subprocess.run(argv, check=else_ is None, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL if else_ else None)
        if done.returncode:
            subprocess.run(else_, check=True, env=env, stdout=subprocess.DEVNULL)
        phases[phase] = time.perf_counter() - started

    vpython = str(venv / "bin" / "python")
    if tool == "pip":
        timed("venv", [python, "-m", "venv", str(venv)])
        timed("install", [vpython, "-m", "pip", "install", "--quiet", str(wheel), *extra])
    else:  # as a job gets uv: `pip install --target` into the cache, unless it is there
        tool_dir = cache / "uv-tool"
        uv = image_uv or str(tool_dir / "bin" / "uv")
        if not Path(uv).exists():
            timed("uv", [python, "-m", "pip", "install", "--quiet", "--target",
                         str(tool_dir), "uv"])
        timed("venv", [uv, "venv", "--quiet", "--python", python, str(venv)])
        install = [uv, "pip", "install", "--quiet", "--python", vpython, str(wheel), *extra]
        timed("install", [*install, "--offline"], else_=install)  # the cache first, as a job
    timed("answer", [str(venv / "bin" / "mlflow-gitlab"), "--version"])
    phases["total"] = sum(phases.values())
    return phases


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
    parser.add_argument("--requirements", type=Path, metavar="FILE",
                        help="also install these requirements, as a training job does")
    args = parser.parse_args()
    extra = ("-r", str(args.requirements.resolve())) if args.requirements else ()
    with tempfile.TemporaryDirectory(prefix="job-setup-") as tmp:
        work = Path(tmp)
        wheel = build_wheel(args.python, work / "dist")
        image = work / "image"  # uv as an image has it, installed before any timing
        subprocess.run([args.python, "-m", "pip", "install", "--quiet", "--target",
                        str(image), "uv"], check=True, env=_env(work / "image-cache"))
        results: dict[tuple[str, str], dict[str, float]] = {}
        for tool in ("pip", "uv", "uv image"):
            runs: dict[str, list[dict[str, float]]] = {"cold": [], "warm": []}
            for attempt in range(args.repeat):
                cache = work / f"cache-{tool.replace(' ', '-')}-{attempt}"
                for state in ("cold", "warm"):
                    venv = work / f"venv-{tool.replace(' ', '-')}-{state}"
                    runs[state].append(set_up(
                        tool.split()[0], args.python, wheel, venv, cache,
                        str(image / "bin" / "uv") if tool == "uv image" else None, extra))
                    shutil.rmtree(venv)
            for state, phases in runs.items():
                results[tool, state] = min(phases, key=lambda p: p["total"])
    print(f"job set-up: fresh venv until `mlflow-gitlab --version` answers "
          f"(fastest of {args.repeat}), seconds"
          + (f", with -r {args.requirements}" if args.requirements else ""))
    print(f"{'case':<15}{'venv':>7}{'uv':>7}{'install':>9}{'answer':>8}{'total':>8}")
    for (tool, state), p in results.items():
        print(f"{tool + ' ' + state:<15}{p['venv']:>7.1f}{p.get('uv', 0):>7.1f}"
              f"{p['install']:>9.1f}{p['answer']:>8.1f}{p['total']:>8.1f}")
    for tool in ("uv", "uv image"):
        for state in ("cold", "warm"):
            pip, uv = results["pip", state], results[tool, state]
            print(f"{tool} vs pip, {state} cache: {pip['total'] / uv['total']:.1f}x faster "
                  f"in all, {pip['install'] / uv['install']:.1f}x in the install itself")
    cold = results["uv image", "cold"]["total"]
    print(f"goal, on the default image: uv at least 8x pip, under 5 s cold: "
          f"{results['pip', 'cold']['total'] / cold:.1f}x, {cold:.1f} s")

if __name__ == "__main__":
    main()
