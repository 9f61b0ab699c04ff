"""Run a child command: inherit its output streams, forward cancel signals, report how it ended."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from mlflow_gitlab.errors import CommandNotFound

# GitLab cancels a job with SIGTERM (and a terminal user with SIGINT): pass both on.
FORWARDED = (signal.SIGINT, signal.SIGTERM)


@dataclass(frozen=True)
class ChildResult:
    returncode: int  # the exit code to exit with: 128 + N when killed by signal N
    signaled: bool  # the child died of a signal, or we forwarded one to it

    @property
    def status(self) -> str:
        """The MLflow run status this outcome means."""
        if self.signaled:
            return "KILLED"
        return "FINISHED" if self.returncode == 0 else "FAILED"


def resolve_command(argv: Sequence[str], env: Mapping[str, str]) -> list[str]:
    """`argv` with its program found on PATH; raises CommandNotFound before anything starts."""
    if not argv:
        raise CommandNotFound("no command given", hint="usage: mlflow-gitlab run -- CMD [ARGS]")
    program = shutil.which(argv[0], path=env.get("PATH"))
    if program is None:
        raise CommandNotFound(f"command not found: {argv[0]}",
                              hint="check the command after `--` and the job's PATH")
    return [program, *argv[1:]]


def run_child(argv: Sequence[str], env: Mapping[str, str]) -> ChildResult:
    """Run `argv` to completion, forwarding SIGINT/SIGTERM to it."""
    group = {"process_group": 0} if sys.version_info >= (3, 11) else {"preexec_fn": os.setpgrp}
    try:
        child = subprocess.Popen(list(argv), env=dict(env), **group)
    except OSError as exc:
        raise CommandNotFound(f"cannot execute {argv[0]}: {exc.strerror}") from exc
    forwarded: list[int] = []

    def forward(signum: int, _frame: object) -> None:
        forwarded.append(signum)
        with contextlib.suppress(ProcessLookupError):  # it may have just exited
            child.send_signal(signum)

    previous = {sig: signal.signal(sig, forward) for sig in FORWARDED}
    try:
        returncode = child.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if returncode < 0:
        return ChildResult(128 - returncode, True)
    return ChildResult(returncode, bool(forwarded))
