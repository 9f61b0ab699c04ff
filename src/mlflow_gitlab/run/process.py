"""Run a child command: inherit its output streams, forward cancel signals, report how it ended.

On Linux the child dies with the helper: it asks the kernel for a SIGKILL when its parent
ends (`PR_SET_PDEATHSIG`), so a helper killed with SIGKILL (the out-of-memory killer, a
runner) leaves no command running without its relay. Elsewhere there is no such request;
such a command's next call to the gone relay fails.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from mlflow_gitlab.errors import CommandNotFound

# GitLab cancels a job with SIGTERM (and a terminal user with SIGINT): pass both on.
FORWARDED = (signal.SIGINT, signal.SIGTERM)
_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


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
    # Its own process group: a Ctrl-C in a terminal reaches it through us, once.
    group = {"process_group": 0} if sys.version_info >= (3, 11) else {}
    try:
        child = subprocess.Popen(list(argv), env=dict(env), preexec_fn=_dies_with_parent(),
                                 **group)
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


def _dies_with_parent() -> Callable[[], None]:
    """What the child does between fork and exec: on Linux, ask for a SIGKILL when this
    process ends (and lead its own group where `process_group` is not available)."""
    prctl = _prctl()
    parent = os.getpid()
    own_group = sys.version_info < (3, 11)

    def prepare() -> None:
        if own_group:
            os.setpgrp()
        if prctl is not None:
            prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
            if os.getppid() != parent:  # the parent died before the request was made
                os._exit(1)

    return prepare


def _prctl() -> Callable[..., int] | None:
    """libc's `prctl`, looked up before any fork (None where there is none)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
