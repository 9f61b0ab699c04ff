"""`mlflow-gitlab sync`: send the points the relay kept in its spool, without duplicates.

The spool holds the relay's spool files and the metric journals of killed helpers
(`recovery`). A file that cannot be read or sent is reported and kept; the others are sent.

Before sending, each run's stored history is read back (`metrics/get-history`) and points
the server already holds are skipped, so a sync cut short and run again sends nothing
twice. A server without that endpoint cannot be asked: its points are sent as kept.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from mlflow_gitlab.errors import GitLabAPIError
from mlflow_gitlab.relay.config import RelayConfig
from mlflow_gitlab.relay.journal_state import helper_journals
from mlflow_gitlab.relay.points import Point, already_stored, chunks
from mlflow_gitlab.relay.recovery import BadJournal, recover
from mlflow_gitlab.relay.sender import BatchSender, stored_points
from mlflow_gitlab.relay.spool import Spool, read_spool_file
from mlflow_gitlab.relay.upstream import Upstream
from mlflow_gitlab.settings import TrackingSettings

log = logging.getLogger(__name__)


@dataclass
class SyncResult:
    """Points found in the spool, sent now, already on the server, and still left; the
    files that could not be sent (`path: reason`, kept as they are)."""

    files: int = 0
    points: int = 0
    sent: int = 0
    already_stored: int = 0
    left: int = 0
    bad: list[str] = field(default_factory=list)


def sync_spool(settings: TrackingSettings, config: RelayConfig) -> SyncResult:
    """Send what `config.spool` holds, spool files first, then the journals of killed
    helpers (`recovery`); delete each file once all its points are stored. A file that
    cannot be read or sent is kept and listed in `bad`, and the others are still sent."""
    upstream = Upstream(settings, config)
    sender = BatchSender(upstream, config.verify_delay)
    result = SyncResult()
    try:
        for path in Spool(config.spool).files():
            _sync_file(path, upstream, sender, result)
        for folder in helper_journals(config.spool):
            _sync_journal(folder, upstream, sender, result)
    finally:
        upstream.close()
    return result


def _sync_file(path: Path, upstream: Upstream, sender: BatchSender, result: SyncResult) -> None:
    try:
        run_id, points = read_spool_file(path)
        fresh = _not_stored(upstream, run_id, points)
    except (OSError, ValueError, GitLabAPIError) as exc:
        result.bad.append(f"{path}: {_reason(exc)}")
        return
    result.files += 1
    result.points += len(points)
    result.already_stored += len(points) - len(fresh)
    left: list[Point] = []
    for batch in chunks(fresh):
        sent, unsent = sender.send(run_id, batch)
        result.sent += sent
        left += unsent
    try:
        _keep(path, run_id, left)
    except OSError as exc:
        result.bad.append(f"{path}: its sent points cannot be removed from it: {exc}")
    result.left += len(left)


def _sync_journal(folder: Path, upstream: Upstream, sender: BatchSender,
                  result: SyncResult) -> None:
    try:
        counts = recover(folder, upstream, sender, _not_stored)
    except (OSError, BadJournal, GitLabAPIError) as exc:
        result.bad.append(f"{folder}: {_reason(exc)}")
        return
    if counts is None:
        return
    found, sent, left = counts
    result.files += 1
    result.points += found
    result.sent += sent
    result.already_stored += found - sent - left
    result.left += left


def _reason(exc: BaseException) -> str:
    if isinstance(exc, UnicodeDecodeError):
        return "not a spool file (not UTF-8 text)"
    if isinstance(exc, OSError):
        return exc.strerror or str(exc)
    return str(exc)


def _not_stored(upstream: Upstream, run_id: str, points: list[Point]) -> list[Point]:
    stored_flags = [False] * len(points)
    for key in dict.fromkeys(p.key for p in points):
        mine = [i for i, p in enumerate(points) if p.key == key]
        stored = stored_points(upstream, run_id, key)
        if stored is None:
            continue
        for i, done in zip(mine, already_stored([points[i] for i in mine], stored),
                           strict=True):
            stored_flags[i] = done
    return [p for p, done in zip(points, stored_flags, strict=True) if not done]


def _keep(path: Path, run_id: str, left: list[Point]) -> None:
    """Replace the spool file with what is left (atomically), or delete it."""
    if not left:
        path.unlink()
        return
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"run_id": run_id, "metrics": [p.to_json() for p in left]})
                   + "\n", encoding="utf-8")
    os.replace(tmp, path)
