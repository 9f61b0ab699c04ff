"""The manifest: parts planned within GitLab's per-file limit, a stable JSON round trip, and
refusal of anything that could write outside the destination folder."""

from __future__ import annotations

import json

import pytest

from mlflow_gitlab.errors import PackageDownloadError
from mlflow_gitlab.packages.manifest import (
    FileEntry,
    Manifest,
    Part,
    destination,
    plan_parts,
)

SHA_A, SHA_B, SHA_C = "a" * 64, "b" * 64, "c" * 64


@pytest.mark.parametrize(("size", "limit", "parts"), [
    (0, 10, [(0, 0)]),
    (10, 10, [(0, 10)]),
    (11, 10, [(0, 10), (10, 1)]),
    (25, 10, [(0, 10), (10, 10), (20, 5)]),
    (10**12, 0, [(0, 10**12)]),  # 0: no limit
])
def test_parts_never_exceed_the_limit_and_cover_the_file(size, limit, parts):
    assert plan_parts(size, limit) == parts


def manifest() -> Manifest:
    return Manifest("ml_experiment_1", "run-1", (
        FileEntry("model/big weights.bin", 15, SHA_A, (
            Part("model/big_weights.bin.part0001", 10, SHA_B),
            Part("model/big_weights.bin.part0002", 5, SHA_C))),
        FileEntry("metrics.json", 3, SHA_C, (Part("metrics.json", 3, SHA_C),)),
    ))


def test_round_trip_keeps_paths_sizes_digests_and_parts():
    raw = manifest().to_bytes()
    assert Manifest.from_bytes(raw) == manifest()
    data = json.loads(raw)
    assert data["format"] == "mlflow-gitlab/manifest"
    assert data["files"][1] == {"path": "metrics.json", "name": "metrics.json", "size": 3,
                                "sha256": SHA_C}
    assert [p["name"] for p in data["files"][0]["parts"]] == [
        "model/big_weights.bin.part0001", "model/big_weights.bin.part0002"]


def with_file(**entry) -> bytes:
    data = json.loads(manifest().to_bytes())
    data["files"].append({"name": "x", "size": 1, "sha256": SHA_A, **entry})
    return json.dumps(data).encode()


@pytest.mark.parametrize("path", [
    "../x", "a/../../x", "/etc/passwd", "C:/Windows/x", "a//b", "./a", "a/.", "", "a\nb"])
def test_unsafe_paths_are_refused(path):
    with pytest.raises(PackageDownloadError, match="unsafe path"):
        Manifest.from_bytes(with_file(path=path))


@pytest.mark.parametrize(("entry", "message"), [
    ({"path": "x", "name": "../other/x"}, "not valid on GitLab"),
    ({"path": "x", "sha256": "nope"}, "not a SHA-256"),
    ({"path": "x", "size": -1}, "byte count"),
    ({"path": "x", "size": 2, "parts": [{"name": "x.part0001", "size": 1,
                                         "sha256": SHA_A}]}, "do not add up"),
    ({"path": "metrics.json"}, "twice"),
    ({"path": "metrics.json/inner"}, "inside a file"),
])
def test_malformed_entries_are_refused(entry, message):
    with pytest.raises(PackageDownloadError, match=message):
        Manifest.from_bytes(with_file(**entry))


@pytest.mark.parametrize("raw", [b"not json", b"[]", b'{"format": "other"}',
                                 b'{"format": "mlflow-gitlab/manifest", "format_version": 9}'])
def test_foreign_or_future_manifests_are_refused(raw):
    with pytest.raises(PackageDownloadError, match=r"manifest\.json is invalid"):
        Manifest.from_bytes(raw)


def test_destination_stays_inside_the_folder(tmp_path):
    dest = tmp_path / "dest"
    assert destination(dest, "a/b.txt") == dest / "a" / "b.txt"
    with pytest.raises(PackageDownloadError):
        destination(dest, "../b.txt")


def test_a_symlink_out_of_the_destination_is_refused(tmp_path):
    dest, outside = tmp_path / "dest", tmp_path / "outside"
    dest.mkdir()
    outside.mkdir()
    (dest / "link").symlink_to(outside)
    with pytest.raises(PackageDownloadError, match="outside"):
        destination(dest, "link/file.txt")
