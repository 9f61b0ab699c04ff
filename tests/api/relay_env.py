"""Helpers for the relay's tests: run `mlflow-gitlab` commands against the sandbox."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from tests import ci_envs


def job_env(sandbox, **extra: str) -> dict[str, str]:
    """A scrubbed merge-request job environment pointed at the sandbox."""
    env = ci_envs.merge_request(**extra)
    env.update({
        "PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp"),
        "CI_SERVER_URL": sandbox.url, "CI_API_V4_URL": sandbox.api_url,
        "CI_JOB_TOKEN": sandbox.tokens["job"], "CI_PROJECT_NAME": "demo-project",
        "MLFLOW_TRACKING_TOKEN": sandbox.tokens["developer"],
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
    })
    return env


def run_cli(env: dict[str, str], *args: str, timeout: float = 120,
            **kwargs) -> subprocess.CompletedProcess[str]:
    """Run the CLI; no token it was given may appear in its output."""
    result = subprocess.run([sys.executable, "-m", "mlflow_gitlab", *args], env=env,
                            capture_output=True, text=True, timeout=timeout, **kwargs)
    secrets = [v for k, v in env.items() if k.endswith("TOKEN") and len(v) > 8]
    assert not [s for s in secrets if s in result.stdout + result.stderr]
    return result


def relay_counts(stderr: str) -> tuple[int, int, int]:
    """(points sent, points taken, requests) from the relay's summary line."""
    match = re.search(r"relay: (\d+) of (\d+) metric point\(s\) sent in (\d+) request", stderr)
    assert match, stderr
    return int(match[1]), int(match[2]), int(match[3])


@contextmanager
def standalone_relay(env: dict[str, str]) -> Iterator[str]:
    """`mlflow-gitlab relay` in the background; yields the URI it prints."""
    with subprocess.Popen([sys.executable, "-m", "mlflow_gitlab", "relay"], env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as proc:
        try:
            assert proc.stdout is not None
            uri = proc.stdout.readline().strip()
            assert uri.startswith("http://127.0.0.1:"), proc.stderr.read() if proc.stderr else ""
            yield uri
        finally:
            proc.terminate()
            proc.wait(timeout=60)
