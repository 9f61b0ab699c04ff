"""Run the `mlflow-gitlab` command as users do, and keep what it printed for the secrets scan.

Every test that runs the CLI goes through `mlflow_gitlab` (or `popen` and `record`), so the
scan in `conftest.py` sees all of the tool's output: no token value given to it may appear there.

Commands run in this process, as a fresh process would see them: the environment swapped
whole, the working directory, standard streams, logging, warnings and the redactor's secrets
set anew and put back after. The ones a process is the point of (`run` and its child, the
long-running `relay` and `sandbox`) run in a subprocess, as does any call given `process=True`,
and every call when MLFLOW_GITLAB_TESTS_CLI=subprocess (to tell a harness difference from a
product one, or to time the suite both ways).
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import subprocess
import sys
import traceback
import warnings
from collections.abc import Iterator, Mapping, Sequence
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
                  process: bool = False, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    """`mlflow-gitlab <args>` with `env`, its output captured as text: in this process unless
    the command needs one of its own (`PROCESS_COMMANDS`), `process` is set, or `kwargs` ask
    for more of `subprocess.run` than `cwd`, `input` and `check`."""
    remember(given_tokens(env))
    if (process or ALWAYS_A_PROCESS or _command(args) in PROCESS_COMMANDS
            or set(kwargs) - {"cwd", "input", "check"}):
        return _in_a_subprocess(args, env, timeout, **kwargs)
    return _in_this_process(args, env, **kwargs)


PROCESS_COMMANDS = frozenset({"run", "relay", "sandbox"})
ALWAYS_A_PROCESS = os.environ.get("MLFLOW_GITLAB_TESTS_CLI") == "subprocess"


def _command(args: Sequence[str]) -> str | None:
    """The subcommand: the first argument that is not one of the group's flags."""
    return next((arg for arg in args if not arg.startswith("-")), None)


def _in_a_subprocess(args: Sequence[str], env: Mapping[str, str], timeout: float,
                     **kwargs: Any) -> subprocess.CompletedProcess[str]:
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


def _in_this_process(args: Sequence[str], env: Mapping[str, str], *, cwd: Any = None,
                     input: str | None = None,  # subprocess.run's name
                     check: bool = False) -> subprocess.CompletedProcess[str]:
    from mlflow_gitlab.cli.main import main

    with _as_a_fresh_process(env, cwd, input or "") as (stdout, stderr):
        try:
            sys.argv = ["mlflow-gitlab", *args]  # what click parses
            main()
            code: object = 0
        except SystemExit as exited:
            code = exited.code
        except BaseException:  # an uncaught error ends a process this way too
            traceback.print_exc()
            code = 1
        if code is not None and not isinstance(code, int):
            print(code, file=sys.stderr)
            code = 1
    result = subprocess.CompletedProcess([*COMMAND, *args], code or 0, stdout.getvalue(),
                                         stderr.getvalue())
    record(args, result.stdout, result.stderr)
    if check:
        result.check_returncode()
    return result


@contextlib.contextmanager
def _as_a_fresh_process(env: Mapping[str, str], cwd: Any,
                        stdin: str) -> Iterator[tuple[io.StringIO, io.StringIO]]:
    """This process as a new one would be for the CLI, and as it was again afterwards.

    The in-process sandbox's log lines keep going where they went (they are not the
    command's output); warnings' filters and hook come back with `catch_warnings`.
    """
    from mlflow_gitlab import redaction

    saved_env, saved_cwd, saved_argv = dict(os.environ), os.getcwd(), sys.argv
    saved_streams = sys.stdin, sys.stdout, sys.stderr
    loggers = [logging.getLogger(name) for name in ("", "mlflow_gitlab", "py.warnings")]
    saved_loggers = [(lg.handlers[:], lg.level, lg.propagate) for lg in loggers]
    sandbox_log = logging.getLogger("mlflow_gitlab.sandbox")
    saved_sandbox_log = sandbox_log.handlers[:], sandbox_log.propagate
    with redaction._lock:  # a fresh process has registered no secret yet
        saved_secrets = set(redaction._registered)
        redaction._registered.clear()
    stdout, stderr = io.StringIO(), io.StringIO()
    with warnings.catch_warnings():
        try:
            sandbox_log.handlers[:], sandbox_log.propagate = logging.getLogger().handlers, False
            os.environ.clear()
            os.environ.update(env)
            if cwd is not None:
                os.chdir(cwd)
            sys.stdin, sys.stdout, sys.stderr = io.StringIO(stdin), stdout, stderr
            yield stdout, stderr
        finally:
            for stream in (sys.stdout, sys.stderr):  # the redactor's pending partial lines
                stream.flush()
            sys.stdin, sys.stdout, sys.stderr = saved_streams
            sys.argv = saved_argv
            logging.captureWarnings(False)
            for lg, (handlers, level, propagate) in zip(loggers, saved_loggers, strict=True):
                lg.handlers[:], lg.propagate = handlers, propagate
                lg.setLevel(level)
            sandbox_log.handlers[:], sandbox_log.propagate = saved_sandbox_log
            os.chdir(saved_cwd)
            os.environ.clear()
            os.environ.update(saved_env)
            with redaction._lock:
                redaction._registered.clear()
                redaction._registered.update(saved_secrets)


def popen(*args: str, env: Mapping[str, str], **kwargs: Any) -> subprocess.Popen:
    """`mlflow-gitlab <args>` started in the background; `record` its output when read."""
    remember(given_tokens(env))
    return subprocess.Popen([*COMMAND, *args], env=dict(env), **kwargs)
