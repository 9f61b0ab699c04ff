"""Run the `mlflow-gitlab` command as users do, and keep what it printed for the secrets scan.

Every test that runs the CLI goes through `mlflow_gitlab` (or `popen` and `record`), so the
scan in `conftest.py` sees all of the tool's output: no token value given to it may appear there.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from tests.secrets_scan import remember

COMMAND = (sys.executable, "-m", "mlflow_gitlab")
printed: list[tuple[str, str]] = []  # (what ran, what it printed), scanned after each test
home_dir: Path | None = None  # the running test's HOME for commands, set by conftest.py


def home() -> str:
    """HOME for the commands a test runs: a folder under its tmp_path, so whatever the tool
    (or MLflow) writes there is scanned for tokens too."""
    assert home_dir is not None, "only within a test"
    home_dir.mkdir(exist_ok=True)
    return str(home_dir)


def given_tokens(env: Mapping[str, str]) -> set[str]:
    """The secret values an environment hands the tool (variables named *TOKEN*)."""
    return {v for k, v in env.items() if "TOKEN" in k.upper() and len(v) > 8}


def record(args: Sequence[str], *outputs: str | bytes | None,
           env: Mapping[str, str] | None = None) -> None:
    """Keep a command's output for the secrets scan; `env`'s tokens become ones it looks for."""
    if env is not None:
        remember(given_tokens(env))
    text = "".join(o.decode(errors="replace") if isinstance(o, bytes) else o
                   for o in outputs if o)
    printed.append((" ".join(args), text))


def mlflow_gitlab(*args: str, env: Mapping[str, str], timeout: float = 180,
                  **kwargs: Any) -> subprocess.CompletedProcess[str]:
    """`mlflow-gitlab <args>` in a subprocess with `env`; output captured as text."""
    remember(given_tokens(env))
    try:
        result = subprocess.run([*COMMAND, *args], env=dict(env), capture_output=True,
                                text=True, timeout=timeout, **kwargs)
    except subprocess.CalledProcessError as failed:  # check=True
        record(args, failed.stdout, failed.stderr)
        raise
    except subprocess.TimeoutExpired as late:
        record(args, late.stdout, late.stderr)
        raise
    record(args, result.stdout, result.stderr)
    return result


def popen(*args: str, env: Mapping[str, str], **kwargs: Any) -> subprocess.Popen:
    """`mlflow-gitlab <args>` started in the background; `record` its output when read."""
    remember(given_tokens(env))
    return subprocess.Popen([*COMMAND, *args], env=dict(env), **kwargs)
