"""How fast the sandbox takes a large generic-package upload, per client.

Uploads one file of `--size-mib` MiB to `PUT .../packages/generic/...` with `curl -T`
(the baseline), `requests.put(data=<open file>)` and python-gitlab
`generic_packages.upload(data=<open file>)`, all against one sandbox running in its own
process, and prints MiB/s (best of `--repeat`) and each client's ratio against curl measured
in the same run. Every upload is checked against the file's SHA-256 and then deleted.

    python bench/sandbox_upload.py [--size-mib 256] [--repeat 3]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gitlab
import requests
from _sandbox import sandbox_process

MIB = 1 << 20
Upload = Callable[[str], dict[str, Any]]  # package name -> the package-file JSON


def write_file(path: Path, size_mib: int) -> str:
    """A file of `size_mib` MiB (one random MiB repeated); returns its SHA-256."""
    block = os.urandom(MIB)
    digest = hashlib.sha256()
    with path.open("wb") as fh:
        for _ in range(size_mib):
            fh.write(block)
            digest.update(block)
    return digest.hexdigest()


def clients(info: dict[str, Any], path: Path) -> dict[str, Upload]:
    """The three uploaders, each returning the `select=package_file` JSON."""
    token = info["tokens"]["developer"]
    generic = f"{info['api_url']}/projects/{info['project_id']}/packages/generic"

    def curl(name: str) -> dict[str, Any]:
        out = subprocess.run(
            ["curl", "--silent", "--show-error", "--fail", "-T", str(path),
             "-H", f"PRIVATE-TOKEN: {token}",
             f"{generic}/{name}/1.0.0/{path.name}?select=package_file"],
            check=True, capture_output=True).stdout
        return json.loads(out)

    session = requests.Session()
    session.headers["PRIVATE-TOKEN"] = token

    def with_requests(name: str) -> dict[str, Any]:
        with path.open("rb") as fh:
            r = session.put(f"{generic}/{name}/1.0.0/{path.name}", data=fh,
                            params={"select": "package_file"})
        r.raise_for_status()
        return r.json()

    project = gitlab.Gitlab(info["url"], private_token=token).projects.get(
        info["project_id"], lazy=True)

    def with_python_gitlab(name: str) -> dict[str, Any]:
        with path.open("rb") as fh:
            package = project.generic_packages.upload(name, "1.0.0", path.name, data=fh,
                                                      select="package_file")
        return package.attributes

    return {"curl -T": curl, "requests.put": with_requests,
            "python-gitlab upload": with_python_gitlab}


def best_seconds(upload: Upload, name: str, sha256: str, repeat: int,
                 delete: Callable[[int], None]) -> float:
    """The fastest of `repeat` uploads; each is verified, then deleted to free the disk."""
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        file = upload(name)
        best = min(best, time.perf_counter() - started)
        if file["file_sha256"] != sha256:
            raise SystemExit(f"{name}: stored SHA-256 {file['file_sha256']} != {sha256}")
        delete(file["package_id"])
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=256, help="file size in MiB")
    parser.add_argument("--repeat", type=int, default=3, help="uploads per client (best kept)")
    args = parser.parse_args()
    if shutil.which("curl") is None:
        raise SystemExit("curl is needed for the baseline")
    with tempfile.TemporaryDirectory(prefix="bench-upload-") as tmp, \
            sandbox_process("--generic-max-file-size", "0") as info:
        path = Path(tmp) / "payload.bin"
        sha256 = write_file(path, args.size_mib)
        admin = requests.Session()
        admin.headers["PRIVATE-TOKEN"] = info["tokens"]["maintainer"]
        packages = f"{info['api_url']}/projects/{info['project_id']}/packages"

        def delete(package_id: int) -> None:
            admin.delete(f"{packages}/{package_id}").raise_for_status()

        results = {label: best_seconds(upload, f"bench-{i}", sha256, args.repeat, delete)
                   for i, (label, upload) in enumerate(clients(info, path).items())}
    baseline = args.size_mib / results["curl -T"]
    print(f"upload of {args.size_mib} MiB to the sandbox, best of {args.repeat}")
    print(f"{'client':<22}{'MiB/s':>10}{'vs curl':>10}")
    for label, seconds in results.items():
        rate = args.size_mib / seconds
        print(f"{label:<22}{rate:>10.1f}{rate / baseline:>10.2f}")


if __name__ == "__main__":
    main()
