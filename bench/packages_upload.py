"""Large generic-package uploads with `mlflow_gitlab.packages`: throughput and peak memory.

For each size, one file goes to a sandbox (its own process, GitLab's 5 GiB per-file limit)
three ways, each client in a child process of its own: `curl -T` (the throughput
baseline), our `upload_paths` (streamed), and python-gitlab
`generic_packages.upload(path=...)` (reads the whole file: the memory baseline). Each upload
is timed inside its child (startup excluded) and checked against the file's SHA-256; peak
RSS comes from `os.wait4` on that child alone. Packages and files are deleted as it goes.

    python bench/packages_upload.py [--sizes-gib 1 4 | --sizes-mib 64] [--repeat 1]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import requests
from _sandbox import sandbox_process

MIB = 1 << 20
LIMIT = 5 * 1024**3  # GitLab's default generic_packages_max_file_size
CLIENTS = ("curl -T", "mlflow_gitlab.packages", "python-gitlab path=")


def write_file(path: Path, size: int) -> str:
    """`size` bytes (one random MiB repeated, then a tail); returns the SHA-256."""
    block, digest = os.urandom(MIB), hashlib.sha256()
    with path.open("wb") as fh:
        for offset in range(0, size, MIB):
            chunk = block[: min(MIB, size - offset)]
            fh.write(chunk)
            digest.update(chunk)
    return digest.hexdigest()


def child_upload(kind: str, info: dict[str, Any], path: Path, package: str) -> dict[str, Any]:
    """Run inside a child process: one upload; returns seconds and the stored SHA-256."""
    token = info["tokens"]["developer"]
    if kind == "ours":
        from mlflow_gitlab.gitlab_api import connect
        from mlflow_gitlab.packages import upload_paths
        from mlflow_gitlab.settings import TransferSettings, gitlab_settings

        client = connect(gitlab_settings({
            "MLFLOW_GITLAB_URL": info["url"], "MLFLOW_GITLAB_PROJECT": str(info["project_id"]),
            "MLFLOW_GITLAB_TOKEN": token}))
        started = time.perf_counter()
        result = upload_paths(client, package, "1.0.0", [path],
                              transfer=TransferSettings(max_file_size=LIMIT))
        return {"seconds": time.perf_counter() - started,
                "sha256": result.manifest.files[0].sha256}
    import gitlab

    project = gitlab.Gitlab(info["url"], private_token=token).projects.get(
        info["project_id"], lazy=True)
    started = time.perf_counter()
    stored = project.generic_packages.upload(package, "1.0.0", path.name, path=str(path),
                                             select="package_file")
    return {"seconds": time.perf_counter() - started, "sha256": stored.attributes["file_sha256"]}


def measure(argv: list[str]) -> tuple[str, int, float]:
    """Run `argv` to the end: its stdout, its own peak RSS in bytes and its CPU seconds."""
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out = proc.stdout.read() if proc.stdout else b""
    err = proc.stderr.read() if proc.stderr else b""
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{argv[0]} failed ({proc.returncode}): {err.decode()[-2000:]}")
    return out.decode(), usage.ru_maxrss * 1024, usage.ru_utime + usage.ru_stime  # RSS: KiB


def upload_once(kind: str, info: dict[str, Any], path: Path, package: str
                ) -> tuple[float, int, float, str]:
    """(seconds, peak RSS bytes, CPU seconds, stored SHA-256) of one upload by `kind`."""
    if kind == CLIENTS[0]:
        url = (f"{info['api_url']}/projects/{info['project_id']}/packages/generic/{package}/"
               f"1.0.0/{path.name}?select=package_file")
        out, rss, cpu = measure(["curl", "--silent", "--show-error", "--fail", "-T", str(path),
                            "-H", f"PRIVATE-TOKEN: {info['tokens']['developer']}",
                            "-w", "\n%{time_total}", url])
        body, seconds = out.rsplit("\n", 1)
        return float(seconds), rss, cpu, json.loads(body)["file_sha256"]
    child = "ours" if kind == CLIENTS[1] else "python-gitlab"
    out, rss, cpu = measure([sys.executable, __file__, "--child", child, "--info", json.dumps(info),
                        "--path", str(path), "--package", package])
    result = json.loads(out.strip().splitlines()[-1])
    return result["seconds"], rss, cpu, result["sha256"]


def delete_packages(info: dict[str, Any]) -> None:
    """Remove every package, so the sandbox's disk holds one upload at a time."""
    session = requests.Session()
    session.headers["PRIVATE-TOKEN"] = info["tokens"]["maintainer"]
    base = f"{info['api_url']}/projects/{info['project_id']}/packages"
    for package in session.get(base, params={"per_page": 100}).json():
        session.delete(f"{base}/{package['id']}").raise_for_status()


def bench_size(size: int, info: dict[str, Any], tmp: Path, repeat: int
               ) -> dict[str, tuple[float, int, float]]:
    """Best time, highest peak RSS and least CPU of `repeat` uploads per client."""
    path = tmp / "payload.bin"
    started = time.perf_counter()
    sha256 = write_file(path, size)
    print(f"  wrote {size / MIB:.0f} MiB in {time.perf_counter() - started:.1f} s",
          file=sys.stderr)
    results = {}
    try:
        for _ in range(repeat):
            for i, kind in enumerate(CLIENTS):
                seconds, rss, cpu, stored = upload_once(kind, info, path, f"bench-{i}")
                delete_packages(info)
                if stored != sha256:
                    raise SystemExit(f"{kind}: stored SHA-256 {stored} != {sha256}")
                best = results.get(kind, (seconds, rss, cpu))
                results[kind] = (min(best[0], seconds), max(best[1], rss), min(best[2], cpu))
                print(f"  {kind}: {size / MIB / seconds:.0f} MiB/s, peak RSS "
                      f"{rss / MIB:.0f} MiB, CPU {cpu:.1f} s", file=sys.stderr)
    finally:
        path.unlink(missing_ok=True)
    return results


def report(size: int, results: dict[str, tuple[float, int, float]]) -> None:
    curl_seconds = results[CLIENTS[0]][0]
    memory_base = results[CLIENTS[2]][1]
    print(f"\n{size / MIB:.0f} MiB file (best of --repeat)")
    print(f"{'client':<24}{'MiB/s':>7}{'vs curl':>9}{'peak RSS MiB':>14}"
          f"{'vs python-gitlab':>18}{'CPU s':>7}")
    for kind, (seconds, rss, cpu) in results.items():
        print(f"{kind:<24}{size / MIB / seconds:>7.0f}{curl_seconds / seconds:>9.2f}"
              f"{rss / MIB:>14.0f}{rss / memory_base:>18.3f}{cpu:>7.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sizes = parser.add_mutually_exclusive_group()
    sizes.add_argument("--sizes-gib", type=int, nargs="+", metavar="N",
                       help="file sizes in GiB [default: 1 4]")
    sizes.add_argument("--sizes-mib", type=int, nargs="+", metavar="N",
                       help="file sizes in MiB, for a quick run")
    parser.add_argument("--repeat", type=int, default=1,
                        help="uploads per client and size; the fastest counts [default: 1]")
    for hidden in ("--child", "--info", "--path", "--package"):
        parser.add_argument(hidden, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        result = child_upload(args.child, json.loads(args.info), Path(args.path), args.package)
        print(json.dumps(result))
        return
    if shutil.which("curl") is None:
        raise SystemExit("curl is needed for the baseline")
    size_list = ([n * MIB for n in args.sizes_mib] if args.sizes_mib
                 else [n * 1024 * MIB for n in (args.sizes_gib or [1, 4])])
    runs = {}
    with tempfile.TemporaryDirectory(prefix="bench-packages-") as tmp, \
            sandbox_process("--generic-max-file-size", str(LIMIT)) as info:
        for size in size_list:
            print(f"{size / MIB:.0f} MiB:", file=sys.stderr)
            runs[size] = bench_size(size, info, Path(tmp), args.repeat)
    for size, results in runs.items():
        report(size, results)
    ours = [results[CLIENTS[1]][1] for results in runs.values()]
    if len(ours) > 1:
        print(f"\nour peak RSS from the smallest to the largest file: {ours[0] / MIB:.0f} -> "
              f"{ours[-1] / MIB:.0f} MiB (file size x{size_list[-1] / size_list[0]:.0f})")


if __name__ == "__main__":
    main()
