"""The tracking-store plugin is harmless: MLflow's own store everywhere but in `run`'s child."""

from __future__ import annotations

import logging

from mlflow.store.tracking.rest_store import RestStore
from mlflow.tracking._tracking_service.utils import _get_store

from mlflow_gitlab.env import JOURNAL_DIR, JOURNAL_RELAY
from mlflow_gitlab.relay import journal_store

# MLflow caches a store per URI: each test names its own relay.


def test_outside_runs_child_mlflow_builds_its_own_rest_store(monkeypatch):
    monkeypatch.delenv(JOURNAL_DIR, raising=False)
    monkeypatch.delenv(JOURNAL_RELAY, raising=False)
    store = _get_store("http://127.0.0.1:11")
    assert type(store) is RestStore


def test_another_server_than_the_relay_gets_mlflows_store(monkeypatch, tmp_path):
    monkeypatch.setenv(JOURNAL_DIR, str(tmp_path))
    monkeypatch.setenv(JOURNAL_RELAY, "http://127.0.0.1:12")
    assert type(_get_store("http://127.0.0.1:13")) is RestStore
    assert isinstance(_get_store("http://127.0.0.1:12"), journal_store.JournalingRestStore)


def test_a_journal_store_that_cannot_be_built_falls_back_to_mlflows(monkeypatch, tmp_path,
                                                                   caplog):
    monkeypatch.setenv(JOURNAL_DIR, str(tmp_path))
    monkeypatch.setenv(JOURNAL_RELAY, "http://127.0.0.1:14")

    def incompatible(*args, **kwargs):  # as an MLflow whose RestStore changed shape would
        raise TypeError("RestStore.__init__() takes 1 positional argument")

    monkeypatch.setattr(journal_store, "journaling_store", incompatible)
    with caplog.at_level(logging.WARNING):
        store = _get_store("http://127.0.0.1:14")
    assert type(store) is RestStore
    assert "not through the journal (TypeError" in caplog.text

