"""The metric journal's file format: whole lines, one file per process, nothing read twice."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from mlflow_gitlab.relay.journal import JournalReader, JournalWriter, decode, encode
from mlflow_gitlab.relay.points import InvalidPoint, Point


def line(step: int, run_id: str = "r1") -> bytes:
    return encode(run_id, Point("loss", step / 10, 1_700_000_000_000 + step, step))


def read_steps(reader: JournalReader) -> list[int | None]:
    return [point.step for _, point in reader.read()]


def test_a_line_reads_back_as_the_point_it_was():
    point = Point("val/acc", 0.25, 1_700_000_000_123, 7)
    assert decode(encode("run-1", point)) == ("run-1", point)
    assert decode(encode("run-1", Point("k", 3, 1, None)))[1].step is None


@pytest.mark.parametrize("raw", [b"{}", b"not json", b'["", "k", 1, 1, 0]',
                                 b'["r", "k", "many", 1, 0]'])
def test_a_line_that_is_not_a_point_is_refused(raw):
    with pytest.raises(InvalidPoint):
        decode(raw)


def test_points_are_read_once_in_order_and_a_line_being_written_waits(tmp_path):
    writer, reader = JournalWriter(tmp_path), JournalReader(tmp_path)
    assert writer.append([line(0), line(1)]) == 2
    assert read_steps(reader) == [0, 1]
    assert read_steps(reader) == []
    (path,) = tmp_path.iterdir()
    half = line(2)[:10]
    with open(path, "ab") as stream:  # another writer's line, half written
        stream.write(half)
    assert read_steps(reader) == []
    with open(path, "ab") as stream:
        stream.write(line(2)[10:])
    assert read_steps(reader) == [2]


def test_segments_are_deleted_once_read_and_the_next_one_started(tmp_path):
    writer, reader = JournalWriter(tmp_path, segment_bytes=200), JournalReader(tmp_path)
    for step in range(20):
        writer.append([line(step)])
    assert len(list(tmp_path.iterdir())) > 3
    assert read_steps(reader) == list(range(20))
    assert len(list(tmp_path.iterdir())) == 1  # only the one still being written
    writer.append([line(20)])
    assert read_steps(reader) == [20]


def test_a_backlog_is_read_a_piece_at_a_time_in_order(tmp_path):
    writer, reader = JournalWriter(tmp_path, segment_bytes=2000), JournalReader(tmp_path)
    for step in range(100):
        writer.append([line(step)])
    pieces = []
    while piece := reader.read(max_bytes=500):
        pieces.append([p.step for _, p in piece])
    assert len(pieces) > 5 and all(len(p) <= 500 // len(line(0)) for p in pieces)
    assert [step for piece in pieces for step in piece] == list(range(100))


def test_a_forked_process_writes_a_file_of_its_own(tmp_path):
    writer, reader = JournalWriter(tmp_path), JournalReader(tmp_path)
    writer.append([line(0)])
    pid = os.fork()
    if pid == 0:  # the child: write, then leave without Python's exit handlers
        writer.append([line(1, "child")])
        os._exit(0)
    os.waitpid(pid, 0)
    writer.append([line(2)])
    assert len(list(tmp_path.iterdir())) == 2
    assert sorted((run, p.step) for run, p in reader.read()) == [
        ("child", 1), ("r1", 0), ("r1", 2)]


def test_a_full_disk_takes_whole_lines_only_says_how_many_and_starts_a_new_file(tmp_path):
    # RLIMIT_FSIZE cuts a write short as a full disk does, in a process of its own.
    script = textwrap.dedent(f"""
        import resource, signal, sys
        from pathlib import Path
        from mlflow_gitlab.relay.journal import JournalWriter
        from tests.unit.test_journal_file import line
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        size = len(line(0)) * 2 + 5
        resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))
        writer = JournalWriter(Path({str(tmp_path)!r}))
        print(writer.append([line(0), line(1), line(2), line(3)]))
        print(writer.append([line(4)]))  # a new file: not glued to the cut line
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=60, cwd=Path(__file__).resolve().parents[2])
    assert done.stdout.split() == ["2", "1"], done.stderr
    reader = JournalReader(tmp_path)
    assert read_steps(reader) == [0, 1, 4]
    reader.finish()
    assert (reader.torn, reader.invalid) == (1, 0)  # the cut line's point went over HTTP


RELAY = "http://127.0.0.1:5005"


@pytest.mark.parametrize(("env", "uri", "journals"), [
    ({"MLFLOW_GITLAB_JOURNAL_DIR": "/j", "MLFLOW_GITLAB_JOURNAL_RELAY": RELAY}, RELAY, True),
    ({"MLFLOW_GITLAB_JOURNAL_DIR": "/j", "MLFLOW_GITLAB_JOURNAL_RELAY": RELAY},
     RELAY + "/", True),
    ({"MLFLOW_GITLAB_JOURNAL_DIR": "/j", "MLFLOW_GITLAB_JOURNAL_RELAY": RELAY},
     "http://127.0.0.1:5000", False),  # the command chose another server
    ({"MLFLOW_GITLAB_JOURNAL_RELAY": RELAY}, RELAY, False),
    ({}, RELAY, False),  # not under `mlflow-gitlab run`: MLflow's own store
])
def test_only_the_relays_uri_under_run_gets_the_journaling_store(monkeypatch, env, uri,
                                                                 journals):
    from mlflow.store.tracking.rest_store import RestStore

    from mlflow_gitlab.relay.journal_store import JournalingRestStore
    from mlflow_gitlab.relay.store_plugin import tracking_store

    for name in ("MLFLOW_GITLAB_JOURNAL_DIR", "MLFLOW_GITLAB_JOURNAL_RELAY"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    store = tracking_store(uri)
    assert isinstance(store, RestStore)
    assert isinstance(store, JournalingRestStore) is journals
    assert store.get_host_creds().host == uri


def test_the_plugin_is_what_mlflow_builds_http_stores_with():
    from mlflow.tracking._tracking_service.utils import _tracking_store_registry

    from mlflow_gitlab.relay.store_plugin import tracking_store

    assert _tracking_store_registry.get_store_builder("http://127.0.0.1:1") is tracking_store


def test_with_a_taker_read_segments_are_handed_over_once_and_not_read_again(tmp_path):
    done = []
    writer = JournalWriter(tmp_path, segment_bytes=200)
    reader = JournalReader(tmp_path, on_done=done.append)
    for step in range(20):
        writer.append([line(step)])
    assert read_steps(reader) == list(range(20))
    assert done and all(path.exists() for path in done)  # the taker deletes them, later
    assert read_steps(reader) == []  # still on disk, not read twice
    writer.append([line(20)])
    assert read_steps(reader) == [20]


def test_a_journal_folder_names_its_run_is_private_and_is_locked_while_its_helper_lives(
        tmp_path):
    from mlflow_gitlab.relay.journal_state import (
        helper_journals,
        in_use,
        new_journal,
        read_record,
        remove_journal,
    )

    spool = tmp_path / ".mlflow-gitlab" / "spool"
    folder, fd, created = new_journal(spool, "run-1")
    assert helper_journals(spool) == [folder]
    assert folder.stat().st_mode & 0o777 == 0o700
    assert read_record(folder)["run_id"] == "run-1"
    assert in_use(folder)  # a `sync` meanwhile leaves it alone
    os.close(fd)  # what a SIGKILL of the helper does to its lock
    assert not in_use(folder)
    remove_journal(folder, None, created)
    assert not (tmp_path / ".mlflow-gitlab").exists()
