"""A throwaway distribution (one wheel, one sdist) for the PyPI registry tests, built by hand:
no build backend, no network."""

from __future__ import annotations

import base64
import hashlib
import io
import tarfile
import zipfile
from pathlib import Path

NAME, VERSION, REQUIRES_PYTHON = "demo_pkg", "0.1.0", ">=3.8"
METADATA = (f"Metadata-Version: 2.1\nName: {NAME}\nVersion: {VERSION}\n"
            f"Summary: A throwaway package\nRequires-Python: {REQUIRES_PYTHON}\n\n")


def build(out: Path, version: str = VERSION) -> list[Path]:
    """Write `<out>/demo_pkg-<version>-py3-none-any.whl` and `.tar.gz`; return both."""
    out.mkdir(parents=True, exist_ok=True)
    metadata = METADATA.replace(f"Version: {VERSION}", f"Version: {version}")
    return [_wheel(out, version, metadata), _sdist(out, version, metadata)]


def _wheel(out: Path, version: str, metadata: str) -> Path:
    info = f"{NAME}-{version}.dist-info"
    files = {f"{NAME}/__init__.py": f"VERSION = {version!r}\n",
             f"{info}/METADATA": metadata,
             f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: hand\nRoot-Is-Purelib: true\n"
                              "Tag: py3-none-any\n"}
    record = []
    for name, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=")
        record.append(f"{name},sha256={digest.decode()},{len(text.encode())}")
    files[f"{info}/RECORD"] = "\n".join([*record, f"{info}/RECORD,,"]) + "\n"
    path = out / f"{NAME}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as zf:
        for name, text in files.items():
            zf.writestr(name, text)
    return path


def _sdist(out: Path, version: str, metadata: str) -> Path:
    root = f"{NAME}-{version}"
    files = {f"{root}/PKG-INFO": metadata,
             f"{root}/{NAME}/__init__.py": f"VERSION = {version!r}\n"}
    path = out / f"{root}.tar.gz"
    with tarfile.open(path, "w:gz") as tf:
        for name, text in files.items():
            data = text.encode()
            member = tarfile.TarInfo(name)
            member.size = len(data)
            tf.addfile(member, io.BytesIO(data))
    return path
