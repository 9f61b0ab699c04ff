"""After `make demo`: every page it prints opens, and a crawl of its links finds none dead.

The demo runs once for the module (on a free port, in a temporary folder); its data folder is
then served again, as the demo tells a user to, so the links stored in runs and notes are
the ones opened. Pages are checked in Debian's headless Chromium as a person would look at
them; the crawl takes the links Chromium finds on a page and asks for each (a browser shows
no status code) over HTTP.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urldefrag, urlsplit

import pytest
import requests

from tests import secrets_scan
from tests.browser.chromium import available

ROOT = Path(__file__).resolve().parents[2]
PRINTED_PAGE = re.compile(r"^  - [^:]+: (http://\S+)$", re.M)


@dataclass
class Demo:
    url: str  # the sandbox, served again from the demo's data folder
    project: str  # the project's page
    output: str  # what `make demo` printed
    folder: Path

    def page(self, path: str) -> str:
        return f"{self.project}{path}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Iterator[Demo]:
    available()  # skip before the demo runs when there is no browser
    folder = tmp_path_factory.mktemp("demo")
    env = {**os.environ, "DEMO_DIR": str(folder), "DEMO_PORT": str(free_port())}
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "demo.py")], env=env,
                          capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    ready = folder / "served-again.json"
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlflow_gitlab", "sandbox", "serve", "--data",
         str(folder / "sandbox"), "--ready-file", str(ready)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while not ready.exists():
            assert proc.poll() is None and time.monotonic() < deadline, "not served again"
            time.sleep(0.05)
        info = json.loads(ready.read_text())
        ready.unlink()  # it holds tokens
        yield Demo(info["url"], f"{info['url']}/{info['project_path']}", done.stdout, folder)
    finally:
        proc.terminate()
        proc.communicate(timeout=10)


def printed_pages(demo: Demo) -> list[str]:
    return PRINTED_PAGE.findall(demo.output.split("Pages to open")[1])


def page_kind(url: str) -> str:
    """The kind of page a URL opens: `ml/candidates` for `.../-/ml/candidates/6`."""
    found = re.search(r"/-/([a-z_]+/[a-z_]+|[a-z_]+)(?:/|\Z)", urlsplit(url).path)
    return found[1] if found else ""


def same_origin(url: str, hrefs: list[str]) -> set[str]:
    origin = urlsplit(url).netloc
    return {urldefrag(href)[0] for href in hrefs if urlsplit(href).netloc == origin}


def test_every_page_the_demo_prints_opens_after_a_restart(demo, browser, tmp_path):
    pages = printed_pages(demo)
    assert len(pages) >= 8, demo.output[-1500:]
    assert all(page.startswith(demo.url + "/") for page in pages), "the same address again"
    for number, page in enumerate(pages):
        response = requests.get(page, timeout=10)
        assert response.status_code == 200, page
        assert "text/html" in response.headers["Content-Type"], page
        shown = browser.open(page)
        assert "404: Page not found" not in shown and "<h1>" in shown, page
        browser.screenshot(tmp_path / f"printed-{number}.png")


def test_no_link_from_the_experiments_and_merge_request_pages_is_dead(demo, browser, tmp_path):
    starts = [demo.page("/-/ml/experiments"), demo.page("/-/merge_requests/1")]
    seen: set[str] = set()
    shot: set[str] = set()
    frontier = set(starts)
    for _depth in range(2):  # the start pages' links, and the links of the pages they open
        following: set[str] = set()
        for url in sorted(frontier - seen):
            seen.add(url)
            response = requests.get(url, timeout=10)
            assert response.status_code < 400, f"{url}: {response.status_code}"
            if "text/html" in response.headers.get("Content-Type", ""):
                browser.open(url)
                following |= same_origin(url, browser.hrefs())
                kind = page_kind(url)
                if kind not in shot:  # a screenshot of each kind of page
                    shot.add(kind)
                    browser.screenshot(tmp_path / f"{kind.replace('/', '-') or 'project'}.png")
        frontier = following
    for url in sorted(frontier - seen):
        assert requests.get(url, timeout=10).status_code < 400, url
        seen.add(url)
    reached = {page_kind(url) for url in seen}
    assert reached >= {"ml/experiments", "ml/candidates", "ml/models", "jobs", "pipelines",
                       "packages", "package_files", "merge_requests"}, reached


def test_the_merge_request_shows_the_report_table_and_its_chart(demo, browser, tmp_path):
    shown = browser.open(demo.page("/-/merge_requests/1"))
    note = shown.split('class="note')[1]
    assert "Winner:" in note
    table = re.search(r"<table>.*?</table>", note, re.S)[0]
    assert table.count("/-/ml/candidates/") >= 2, "a row per candidate, each a link"
    chart = re.search(r'<svg class="chart".*?</svg>', note, re.S)[0]
    assert chart.count("<rect") >= 2, "a bar per candidate"
    assert "xychart-beta" not in note, "drawn, not shown as code"
    browser.screenshot(tmp_path / "merge-request.png")


def test_the_winning_run_shows_its_metrics_and_loss_chart(demo, browser, tmp_path):
    report = (demo.folder / "report.md").read_text()
    name, winner, value = re.search(r"Winner: \[(.*?)\]\((http://\S+?)\)\*\* with final_loss = "
                                    r"\*\*([\d.e-]+)\*\*", report).groups()
    browser.open(demo.page("/-/merge_requests/1"))
    shown = browser.click(name.replace("\\", ""))  # the note's link, as a person would
    assert browser.url == winner
    row = re.search(r"<code>final_loss</code></td><td[^>]*>([^<]+)<", shown)
    assert row and float(row[1]) == pytest.approx(float(value), rel=1e-4)
    assert 'data-metric="loss"' in shown
    loss_chart = shown.split('data-metric="loss"')[1].split("</figure>")[0]
    assert loss_chart.count("<circle") >= 10, "one point per logged epoch"
    browser.screenshot(tmp_path / "winner.png")


def test_the_demo_leaks_no_token(demo):
    secrets_scan.allow(demo.folder / "ready.json")  # the demo's own sandbox, by design
    try:
        leaks = secrets_scan.scan(demo.folder, [("make demo", demo.output)])
    finally:
        secrets_scan.allowed.clear()
    assert leaks == []
