"""What a killed `mlflow-gitlab run` left: its metric journal, delivered once, and its run closed.

A helper that ends normally deletes its journal folder (`journal_state`); one that was
killed leaves it, with the record naming its run. `sync` reads every point in it, skips
those the server already holds (the relay may have sent them before the kill: the run's
metric history says), sends the rest, and then ends the run KILLED if it is still
RUNNING. The folder is deleted only when all of that succeeded.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

from mlflow_gitlab.errors import GitLabAPIError
from mlflow_gitlab.relay.journal import JournalReader
from mlflow_gitlab.relay.journal_intake import HTTP
from mlflow_gitlab.relay.journal_state import in_use, read_record, remove_journal
from mlflow_gitlab.relay.points import Point, chunks
from mlflow_gitlab.relay.sender import BatchSender
from mlflow_gitlab.relay.upstream import Upstream

log = logging.getLogger(__name__)
NotStored = Callable[[Upstream, str, list[Point]], list[Point]]


class BadJournal(ValueError):
    """A journal folder that cannot be delivered as it is (the message says why)."""


def journal_points(folder: Path) -> dict[str, list[Point]]:
    """Every whole point line in a journal folder (and its `http/` copies), by run.

    Raises:
        OSError: a segment cannot be read.
    """
    runs: defaultdict[str, list[Point]] = defaultdict(list)
    for where in (folder, folder / HTTP):  # journaled, and acknowledged over HTTP
        if not where.is_dir():
            continue
        reader = JournalReader(where, on_done=lambda _: None)  # nothing is deleted
        while found := reader.read():
            for run_id, point in found:
                runs[run_id].append(point)
        if reader.invalid:
            log.warning("sync: %s: %d line(s) were not metric points and were skipped",
                        where, reader.invalid)
    return dict(runs)


def recover(folder: Path, upstream: Upstream, sender: BatchSender,
            not_stored: NotStored) -> tuple[int, int, int] | None:
    """Deliver one killed helper's journal and end its run; None if its helper still runs.

    Returns:
        (points found, points sent, points still unsent); the folder is deleted when none
        are left.

    Raises:
        BadJournal: the folder is not a journal, or names a run the server does not have.
        GitLabAPIError: the server stayed unreachable under the retry policy.
        OSError: the folder cannot be read.
    """
    try:
        if in_use(folder):
            log.info("sync: %s belongs to a helper still running: left alone", folder)
            return None
        record = read_record(folder)
    except ValueError as exc:
        raise BadJournal(str(exc)) from None
    runs = journal_points(folder)
    helper_run = record["run_id"]
    status = {run_id: _status(upstream, run_id) for run_id in {helper_run, *runs}}
    found = sent = left = 0
    for run_id, points in runs.items():
        found += len(points)
        for batch in chunks(not_stored(upstream, run_id, points)):
            done, unsent = sender.send(run_id, batch)
            sent, left = sent + done, left + len(unsent)
    if left:
        return found, sent, left
    if status[helper_run] == "RUNNING":
        _end_killed(upstream, helper_run)
        log.info("sync: run %s ended KILLED (its helper was killed)", helper_run)
    remove_journal(folder, None, [])
    return found, sent, 0


def _status(upstream: Upstream, run_id: str) -> str:
    response = upstream.call("GET", upstream.mlflow_url("runs/get"), params={"run_id": run_id})
    if response.status_code == 404:
        raise BadJournal(f"run {run_id} is not on {upstream.base}")
    if not response.ok:
        raise GitLabAPIError(f"cannot read run {run_id}: {response.status_code} "
                             f"{response.text.strip()[:200]}")
    return str(response.json().get("run", {}).get("info", {}).get("status", ""))


def _end_killed(upstream: Upstream, run_id: str) -> None:
    response = upstream.call("POST", upstream.mlflow_url("runs/update"), idempotent=True,
                             json={"run_id": run_id, "status": "KILLED",
                                   "end_time": int(time.time() * 1000)})
    if not response.ok:
        raise GitLabAPIError(f"cannot end run {run_id}: {response.status_code} "
                             f"{response.text.strip()[:200]}")
