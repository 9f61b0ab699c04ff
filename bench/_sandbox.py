"""Start a sandbox in a separate process for benchmarks (client and server must not share a GIL)."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def sandbox_process(*extra_args: str) -> Iterator[dict]:
    """Yield the ready JSON of a `mlflow-gitlab sandbox serve` child process."""
    with tempfile.TemporaryDirectory(prefix="bench-sandbox-") as tmp:
        ready = Path(tmp) / "ready.json"
        with subprocess.Popen(
            [sys.executable, "-m", "mlflow_gitlab", "sandbox", "serve", "--port", "0",
             "--data", str(Path(tmp) / "data"), "--ready-file", str(ready), *extra_args],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        ) as proc:
            try:
                deadline = time.monotonic() + 30
                while not ready.exists():
                    if proc.poll() is not None or time.monotonic() > deadline:
                        raise SystemExit("the sandbox did not start")
                    time.sleep(0.02)
                yield json.loads(ready.read_text())
            finally:
                proc.terminate()
                proc.wait(timeout=10)


def admin_headers(info: dict) -> dict[str, str]:
    """The header the sandbox's control routes (`/-/sandbox/...`) need: its admin token."""
    return {"PRIVATE-TOKEN": info["admin_token"]}
