"""Points the relay could not send, kept on disk until `mlflow-gitlab sync` sends them.

One file per run, `<folder>/<run_id>.jsonl`, one JSON line per batch:
`{"run_id": ..., "metrics": [...]}` (the `log-batch` body that could not be sent). Lines are
appended and synced to disk before the relay counts the points as kept.
"""

from __future__ import annotations

import json
import os
import re
import threading
from pathlib import Path

from mlflow_gitlab.relay.points import InvalidPoint, Point, parse_points

_RUN_FILE = re.compile(r"[^A-Za-z0-9_.-]")


class Spool:
    """Appends unsent points under `folder`; thread-safe."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self._lock = threading.Lock()

    def add(self, run_id: str, points: list[Point]) -> Path:
        """Keep `points` of run `run_id`; return the file they were written to.

        Raises:
            OSError: the folder or file cannot be written.
        """
        path = self.file_for(run_id)
        line = json.dumps({"run_id": run_id, "metrics": [p.to_json() for p in points]})
        with self._lock:
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("a", encoding="utf-8") as fh:
                fh.write(line + "\n")
                fh.flush()
                os.fsync(fh.fileno())
        return path

    def file_for(self, run_id: str) -> Path:
        return self.folder / f"{_RUN_FILE.sub('_', run_id)}.jsonl"

    def files(self) -> list[Path]:
        """The spool files, oldest first."""
        if not self.folder.is_dir():
            return []
        return sorted(self.folder.glob("*.jsonl"), key=lambda p: p.stat().st_mtime)


def read_spool_file(path: Path) -> tuple[str, list[Point]]:
    """The run id and the points of one spool file, in the order they were kept.

    A last line cut short (the relay was killed while writing it) is skipped: its points
    were not counted as kept.

    Raises:
        ValueError: the file is not a spool file: a line that is not a kept batch, points
            of several runs, or none.
        OSError: it cannot be read.
    """
    run_ids, points = set(), []
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    for number, line in enumerate(lines, 1):
        try:
            record = json.loads(line)
            batch = parse_points(record["metrics"])
            run_id = record["run_id"]
        except (ValueError, KeyError, TypeError, InvalidPoint) as exc:
            if number == len(lines) and not text.endswith("\n"):
                continue  # cut short: never counted as kept
            raise ValueError(f"line {number} is not a batch of metric points "
                             f"({_what(exc)})") from None
        if not isinstance(run_id, str) or not run_id:
            raise ValueError(f"line {number} names no run")
        run_ids.add(run_id)
        points.extend(batch)
    if len(run_ids) != 1:
        raise ValueError(f"it holds points of {len(run_ids)} runs; expected one")
    return run_ids.pop(), points


def _what(exc: BaseException) -> str:
    if isinstance(exc, KeyError):
        return f"no {exc.args[0]!r}"
    if isinstance(exc, json.JSONDecodeError):
        return "not JSON"
    return str(exc) or type(exc).__name__
