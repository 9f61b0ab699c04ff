"""Debian's headless Chromium, run as a person's browser would open a page: the DOM after its
scripts ran, and a screenshot kept as a test artifact."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

# Flags for a closed network, as root: no sandbox, no background connections to Google.
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--virtual-time-budget=5000", "--window-size=1280,1600")


def executable() -> str:
    """The Chromium binary; the test skips, naming the package, when there is none."""
    found = shutil.which("chromium")
    if found is None:
        pytest.skip("needs Debian's chromium (apt-get install chromium; make test installs "
                    "it when run as root)")
    return found


def dom(url: str, profile: Path) -> str:
    """The page's DOM once loaded, its scripts run and their navigations followed."""
    done = subprocess.run([executable(), *FLAGS, f"--user-data-dir={profile}", "--dump-dom",
                           url], capture_output=True, text=True, timeout=120, check=True)
    return done.stdout


def screenshot(url: str, path: Path, profile: Path) -> Path:
    """A PNG of the page at `path`."""
    subprocess.run([executable(), *FLAGS, f"--user-data-dir={profile}",
                    f"--screenshot={path}", url], capture_output=True, timeout=120, check=True)
    assert path.stat().st_size > 0, f"Chromium drew nothing for {url}"
    return path
